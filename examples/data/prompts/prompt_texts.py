"""The texts that rewrite, summarise and extract prompts hand the model: passages composed from
hand-written sentence banks (a few sentences of one subject, in their order), product reviews,
event notices, customer messages and meeting notes composed from parts. A prompt about a text
only teaches a drafter something if the text is real prose, so none of these are placeholders.

`PassagePicker` keeps any two passages of one subject from sharing most of their sentences: two
prompts that quote nearly the same passage would be near-duplicates (and one would be dropped)."""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True)
class Subject:
    name: str
    domain: str
    gist: str
    """What the subject is about in one or two sentences: the assistant's turn in a follow-up chat."""
    sentences: tuple[str, ...]


SUBJECTS: list[Subject] = [
    Subject(
        "honeybees",
        "nature",
        "Honeybees live in large colonies with a single queen and thousands of workers whose jobs change as they "
        "age. They share directions to flowers by dancing, pollinate many crops, and are under pressure from "
        "mites, pesticides and the loss of wildflowers.",
        (
            "Honeybees live in colonies that can hold tens of thousands of workers at the height of summer.",
            "A colony has a single queen, whose main job is to lay eggs, sometimes more than a thousand in a day.",
            "Worker bees change jobs as they age, moving from cleaning cells to feeding larvae, guarding the "
            "entrance and finally foraging.",
            "Foragers tell their sisters where flowers are with the waggle dance, whose angle points toward the "
            "food relative to the sun.",
            "Honeybees pollinate many crops, including apples, almonds and blueberries, which is why some farmers "
            "rent hives while their trees are in flower.",
            "In winter the colony gathers into a tight cluster, and the bees shiver their flight muscles to keep "
            "the centre warm.",
            "A strong colony can store more honey than it needs for winter, and that surplus is what beekeepers "
            "harvest.",
            "Parasites such as the varroa mite, some pesticides and the loss of wildflower meadows have made life "
            "harder for honeybee colonies.",
        ),
    ),
    Subject(
        "the printing press",
        "history",
        "Around 1440 Johannes Gutenberg built a press with reusable metal type, which made books far cheaper "
        "than hand-copied ones. Printing spread quickly across Europe and helped spread literacy and new ideas.",
        (
            "Around 1440, Johannes Gutenberg in Mainz developed a printing press that used movable metal type.",
            "Each letter was cast separately in a metal alloy, so type could be set, inked, printed and then reused "
            "for the next page.",
            "Gutenberg's best-known work, a Latin Bible finished around 1455, survives in fewer than fifty copies "
            "today.",
            "Before the press, books in Europe were copied by hand, which made them slow to produce and expensive "
            "to buy.",
            "Within fifty years, printing shops had opened in more than two hundred European towns.",
            "Cheaper books helped spread literacy, scientific ideas and, later, the arguments of the Protestant "
            "Reformation.",
            "Printing also made spelling more uniform, because many readers now saw exactly the same text.",
            "Movable type had existed earlier in East Asia, where Bi Sheng made ceramic type in China in the "
            "eleventh century.",
        ),
    ),
    Subject(
        "sourdough bread",
        "cooking",
        "Sourdough bread rises thanks to a starter of flour and water in which wild yeast and lactic acid "
        "bacteria live together. The slow fermentation gives the bread its sour taste and needs patience and "
        "regular feeding of the starter.",
        (
            "A sourdough starter is a mix of flour and water in which wild yeast and lactic acid bacteria live "
            "together.",
            "The bacteria produce acids that give the bread its tangy taste and help it stay fresh longer than "
            "ordinary yeasted bread.",
            "A starter kept at room temperature usually needs feeding with fresh flour and water once a day.",
            "Many bakers keep their starter in the fridge between bakes, which slows it down so it needs feeding "
            "only about once a week.",
            "Sourdough rises more slowly than bread made with commercial yeast, and a rise of twelve hours or more "
            "is common.",
            "The long fermentation breaks down some of the starches and proteins in the flour, which some people "
            "find easier to digest.",
            "A healthy starter roughly doubles in size a few hours after feeding and smells pleasantly sour, a bit "
            "like yoghurt.",
            "Experienced bakers judge the dough by how it looks and feels rather than by the clock, because warmth "
            "changes how fast it ferments.",
        ),
    ),
    Subject(
        "marathon training",
        "sports",
        "Training for a first marathon usually takes four to five months of gradually longer runs, built around "
        "one long easy run a week, with rest days and a taper before the race.",
        (
            "Most beginner marathon plans last between sixteen and twenty weeks and build up the distance gradually.",
            "The long run, usually done once a week at an easy pace, is the backbone of marathon training.",
            "A common rule of thumb is to increase weekly distance by no more than about ten percent.",
            "Easy runs should feel conversational, meaning you could speak in full sentences while running.",
            "In the last two or three weeks before the race, runners cut back their mileage in a phase called the "
            "taper.",
            "Practising race-day food and drink on long runs helps the stomach get used to gels or sports drinks.",
            "Many first-time marathoners start too fast and pay for it in the last ten kilometres.",
            "Rest days are part of the plan, because muscles and tendons adapt and grow stronger during recovery.",
        ),
    ),
    Subject(
        "home solar panels",
        "technology",
        "Solar panels on a roof turn sunlight into electricity, which an inverter makes usable in the home. "
        "Output depends on the roof and the weather, and the high upfront cost is weighed against years of "
        "lower bills.",
        (
            "Solar panels turn sunlight into electricity using cells made mostly of silicon.",
            "The panels produce direct current, which an inverter converts into the alternating current used by "
            "household appliances.",
            "A typical home system might be rated between three and six kilowatts, depending on roof space and budget.",
            "Panels still work on cloudy days, though their output can drop to a fraction of what they make in "
            "full sun.",
            "Many households pair their panels with a battery so that energy collected during the day can be used "
            "in the evening.",
            "In the northern hemisphere, south-facing roofs usually produce the most power, but east- and "
            "west-facing roofs can also work well.",
            "Manufacturers often guarantee that panels will keep at least eighty percent of their output after "
            "twenty-five years.",
            "Because the upfront cost is high, people usually compare it with how much they expect to save on "
            "electricity bills each year.",
        ),
    ),
    Subject(
        "compound interest",
        "finance",
        "Compound interest means earning interest on earlier interest as well as on the money you put in, so "
        "savings grow faster the longer they are left alone. The same effect makes unpaid debts grow.",
        (
            "Compound interest means earning interest not only on the money you put in but also on the interest "
            "already earned.",
            "If you save 1,000 euros at five percent a year, you have 1,050 euros after one year and about 1,103 "
            "after two.",
            "The longer money is left to grow, the larger the share of the total that comes from interest rather "
            "than from deposits.",
            "The rule of 72 gives a quick estimate: divide 72 by the yearly interest rate to find roughly how many "
            "years it takes for money to double.",
            "Compounding also works against borrowers, which is why unpaid credit card balances can grow quickly.",
            "Interest can be added yearly, monthly or even daily, and more frequent compounding gives a slightly "
            "higher return.",
            "Starting to save early often matters more than saving large amounts later, because of the extra years "
            "of growth.",
            "Inflation reduces what the final amount can buy, so savers compare interest rates with the rate at "
            "which prices rise.",
        ),
    ),
    Subject(
        "coral reefs",
        "nature",
        "Coral reefs are built by tiny animals that live with algae in their tissues. They shelter a huge "
        "share of ocean life and protect coasts, but warming water makes them bleach and many are in decline.",
        (
            "Coral reefs are built by tiny animals called polyps, which produce hard skeletons of calcium carbonate.",
            "Most reef-building corals get much of their food from algae living inside their tissues, which "
            "photosynthesise in sunlight.",
            "Reefs cover well under one percent of the ocean floor but shelter roughly a quarter of all known "
            "marine species.",
            "When the water stays too warm for too long, corals expel their algae and turn white in a process "
            "called bleaching.",
            "Bleached corals are not dead yet, but many die if the water does not cool down within a few weeks.",
            "The Great Barrier Reef off the coast of Australia stretches for more than 2,000 kilometres.",
            "Reefs protect coastlines by breaking waves before they reach the shore.",
            "Overfishing, pollution washed off farmland and the acidification of the ocean add to the pressure on "
            "reefs.",
        ),
    ),
    Subject(
        "sleep",
        "health",
        "Most adults need seven to nine hours of sleep, which runs in cycles of light, deep and REM sleep. A "
        "regular schedule, morning light and a dark, cool bedroom help, while late caffeine and screens get in "
        "the way.",
        (
            "Adults generally need between seven and nine hours of sleep a night, though needs vary from person "
            "to person.",
            "Sleep runs in cycles of about ninety minutes, moving between light sleep, deep sleep and REM sleep.",
            "Deep sleep is when the body does much of its physical repair, while REM sleep is linked with dreaming "
            "and memory.",
            "Going to bed and waking up at the same times every day, even at weekends, helps keep the body clock "
            "steady.",
            "Bright light in the morning helps set the body clock, while bright screens late at night can push it "
            "later.",
            "Caffeine can stay in the body for many hours, so an afternoon coffee can still affect sleep at night.",
            "A cool, dark and quiet bedroom makes it easier to fall asleep and stay asleep.",
            "Regularly sleeping too little is linked with poorer concentration, lower mood and weaker defences "
            "against infection.",
        ),
    ),
    Subject(
        "the Silk Road",
        "history",
        "The Silk Road was a web of trade routes between China and the Mediterranean. Silk, spices and many "
        "other goods moved along it, and so did religions, ideas and diseases, until sea routes took over.",
        (
            "The Silk Road was not a single road but a network of trade routes linking China with Central Asia, "
            "the Middle East and the Mediterranean.",
            "The Silk Road took its name from Chinese silk, which was highly prized in Rome and later in Byzantium.",
            "Goods such as spices, glass, horses, paper and precious metals also moved along the routes.",
            "Few traders travelled the whole distance; most goods passed through many hands along the way.",
            "Caravan cities such as Samarkand and Kashgar grew rich by offering markets, water and places to rest.",
            "Ideas travelled along with goods, helping Buddhism spread from India into China.",
            "Diseases moved along the routes too, and the Black Death may have reached Europe partly through these "
            "trade links.",
            "As sea routes became safer and cheaper from the fifteenth century onward, overland trade declined.",
        ),
    ),
    Subject(
        "password managers",
        "technology",
        "A password manager keeps all your passwords in an encrypted vault behind one master password, so you "
        "can use a long, different password for every site without remembering them.",
        (
            "A password manager stores all your passwords in an encrypted vault that you unlock with one master "
            "password.",
            "Because it remembers them for you, you can use a long, random and different password for every website.",
            "Reusing the same password is risky, because a leak at one site lets attackers try it everywhere else.",
            "Most password managers can generate strong passwords and fill them in automatically in the browser.",
            "The master password should be long but memorable, such as a phrase made of several unrelated words.",
            "Turning on two-factor authentication for the password manager itself adds another layer of protection.",
            "Many managers warn you when one of your saved passwords shows up in a known data breach.",
            "Some password managers are free and open source, while others charge a small yearly fee and offer "
            "family sharing.",
        ),
    ),
    Subject(
        "composting",
        "everyday life",
        "Composting lets microbes turn kitchen and garden waste into rich material for the soil. A heap needs a "
        "mix of green and brown waste, air and moisture, and it takes months to finish.",
        (
            "Composting turns kitchen and garden waste into a dark, crumbly material that improves soil.",
            "A good compost heap mixes green materials, such as vegetable peelings and grass cuttings, with brown "
            "materials like dry leaves and cardboard.",
            "Microorganisms do most of the work, and they need air and moisture to break the material down.",
            "Turning the heap every week or two lets in oxygen and speeds up decomposition.",
            "A well-managed heap can get warm in the middle, sometimes above fifty degrees Celsius.",
            "Meat, dairy and oily food are usually kept out of home compost because they attract rats and smell.",
            "Depending on the method, finished compost can take anywhere from two months to a year.",
            "Compost helps soil hold water and nutrients, which reduces the need for chemical fertiliser.",
        ),
    ),
    Subject(
        "jazz improvisation",
        "arts",
        "Jazz musicians invent new melodies on the spot over the chords of a tune. They learn by listening to "
        "and copying great players, and a performance usually frames several solos with the original melody.",
        (
            "Jazz musicians often improvise new melodies over the chord progression of a well-known tune.",
            "Many jazz standards come from Broadway shows and popular songs written between the 1920s and the 1950s.",
            "Players learn by listening closely to recordings and copying solos note for note, a practice called "
            "transcribing.",
            "A typical performance plays the main melody, moves through several improvised solos and then returns "
            "to the melody.",
            "Improvisers practise scales and arpeggios, but the best solos also tell a story, with tension and "
            "release.",
            "The twelve-bar blues is one of the first forms most jazz students learn to improvise over.",
            "In a small group, the piano, bass and drums support the soloist and react to what they play.",
            "Charlie Parker, Miles Davis and Ella Fitzgerald are among the artists whose improvisations are still "
            "studied today.",
        ),
    ),
    Subject(
        "glaciers",
        "nature",
        "Glaciers are rivers of ice that form where snow builds up faster than it melts. They slowly flow "
        "downhill, shape valleys, store much of the world's fresh water, and many are now shrinking.",
        (
            "A glacier forms where more snow falls each winter than melts each summer, so the snow slowly "
            "compresses into ice.",
            "Glaciers move under their own weight, flowing downhill at speeds from a few centimetres to several "
            "metres a day.",
            "As they move, glaciers carve U-shaped valleys and carry boulders far from where they started.",
            "About two thirds of the world's fresh water is stored as ice in glaciers and ice sheets.",
            "Many mountain glaciers are shrinking, and those in the Alps have lost a large part of their volume "
            "since 1900.",
            "Meltwater from glaciers feeds rivers that millions of people rely on during dry summers.",
            "Scientists study layers of ice drilled out of glaciers to learn about the climate of the past.",
            "Where a glacier reaches the sea, pieces can break off its front and float away as icebergs.",
        ),
    ),
    Subject(
        "the Apollo program",
        "history",
        "NASA's Apollo program ran from 1961 to 1972 and landed twelve astronauts on the Moon, starting with "
        "Apollo 11 in July 1969. It was one of the largest and most expensive technical projects ever.",
        (
            "The Apollo program was run by NASA between 1961 and 1972 with the goal of landing people on the Moon.",
            "Apollo 11 landed on 20 July 1969, and Neil Armstrong and Buzz Aldrin became the first people to walk "
            "on the lunar surface.",
            "Michael Collins stayed in orbit in the command module while his two crewmates were on the surface.",
            "The Saturn V rocket that launched the missions stood about 110 metres tall.",
            "Twelve astronauts walked on the Moon across six successful landings.",
            "Apollo 13 had to abandon its landing after an oxygen tank exploded, but the crew returned safely to "
            "Earth.",
            "The missions brought back 382 kilograms of lunar rock and soil, which scientists still study.",
            "The program cost about 25 billion dollars at the time, one of the largest technical projects ever "
            "undertaken by a government.",
        ),
    ),
    Subject(
        "inflation",
        "finance",
        "Inflation is the general rise in prices, which means money buys a little less each year. Central banks "
        "usually aim for about two percent and raise interest rates when inflation runs too high.",
        (
            "Inflation is the general rise in prices over time, which means each unit of money buys a little less.",
            "Statistical offices measure it by tracking the prices of a basket of goods and services that "
            "households commonly buy.",
            "Many central banks aim for inflation of around two percent a year, which they see as healthy for the "
            "economy.",
            "When demand grows faster than an economy can produce goods, prices tend to rise.",
            "Sudden increases in the cost of energy or raw materials can also push up prices across many products.",
            "Central banks often respond to high inflation by raising interest rates, which makes borrowing more "
            "expensive.",
            "Inflation hurts savers whose money sits in accounts that pay less interest than the rate at which "
            "prices rise.",
            "Very high inflation, called hyperinflation, can make money almost worthless within months.",
        ),
    ),
    Subject(
        "houseplants",
        "everyday life",
        "Most houseplants die from too much water rather than too little. Checking the soil, using pots with "
        "drainage and giving the plant enough light matter more than any special product.",
        (
            "Most houseplant deaths are caused by overwatering rather than by too little water.",
            "Many plants only need water when the top few centimetres of soil feel dry to the touch.",
            "Pots need drainage holes so extra water can escape instead of rotting the roots.",
            "Light is often the limiting factor indoors, and a plant a few metres from a window gets far less than "
            "one on the sill.",
            "Plants such as snake plants and ZZ plants tolerate low light and irregular watering.",
            "Many houseplants grow more slowly in winter and need less water and no fertiliser until spring.",
            "Yellowing lower leaves can be a sign of too much water, while crispy brown tips often point to dry air.",
            "Moving a plant into a slightly larger pot every year or two gives the roots fresh soil and room to grow.",
        ),
    ),
    Subject(
        "the immune system",
        "health",
        "The immune system defends the body against germs with barriers such as skin, a fast general response "
        "and a slower, targeted response that remembers past infections, which is what vaccines rely on.",
        (
            "The immune system protects the body from infections caused by bacteria, viruses, fungi and parasites.",
            "Skin and the mucus lining the nose and throat are the first barriers that keep germs out.",
            "White blood cells patrol the body and attack invaders they recognise as foreign.",
            "The innate immune system responds quickly, but in the same general way to every threat.",
            "The adaptive immune system takes longer to respond, but it targets a specific germ and remembers it.",
            "Antibodies are proteins that stick to particular germs and mark them for destruction.",
            "Vaccines work by showing the adaptive immune system a harmless piece or version of a germ, so it is "
            "ready for the real thing.",
            "Fever is one of the body's defences, because many germs multiply more slowly at higher temperatures.",
        ),
    ),
    Subject(
        "public libraries",
        "society",
        "Public libraries lend books and much more for free, and they offer internet access, help with "
        "information and a warm public space that anyone can use without paying.",
        (
            "Public libraries lend books for free and are funded mostly by local or national governments.",
            "Many libraries now lend e-books and audiobooks that can be borrowed on a phone or tablet.",
            "Besides books, libraries often offer free internet access, printing and help with filling in online "
            "forms.",
            "Children's sections run reading programmes and story hours that help young children learn to love books.",
            "Some libraries lend unusual items such as tools, musical instruments or seeds for the garden.",
            "Librarians help visitors find reliable information and learn how to judge sources.",
            "In many towns the library is one of the few indoor public spaces where people can stay without paying.",
            "Funding cuts have closed branches in some places, while other cities have built large new central "
            "libraries.",
        ),
    ),
    Subject(
        "bird migration",
        "nature",
        "Billions of birds fly between breeding and wintering grounds every year, steering by the sun, the stars "
        "and the Earth's magnetic field, and resting at stopover sites along the way.",
        (
            "Billions of birds migrate each year between their breeding grounds and the places where they spend "
            "the winter.",
            "Arctic terns make one of the longest journeys of any animal, travelling between the Arctic and the "
            "Antarctic every year.",
            "Birds navigate using the position of the sun and stars, the Earth's magnetic field and familiar "
            "landmarks.",
            "Many small songbirds migrate at night, when the air is cooler and there are fewer predators.",
            "Before migrating, some birds nearly double their body weight by storing fat as fuel.",
            "Wetlands and coastlines serve as stopover sites where migrating birds rest and feed.",
            "Bright city lights at night can confuse migrating birds and cause collisions with buildings.",
            "A changing climate is shifting the timing of migration for some species, so they arrive when food is "
            "less plentiful.",
        ),
    ),
    Subject(
        "3D printing",
        "technology",
        "A 3D printer builds objects layer by layer from a digital model, usually from melted plastic or "
        "hardened resin. It is widely used for quick prototypes, though printed parts can be weak between "
        "layers.",
        (
            "A 3D printer builds an object layer by layer from a digital model, rather than cutting it out of a block.",
            "The most common home printers melt plastic filament and lay it down in thin lines.",
            "Resin printers use light to harden liquid resin and can print much finer detail.",
            "Before printing starts, software slices the model into hundreds or thousands of thin layers.",
            "Small parts can take under an hour to print, while large detailed objects can take more than a day.",
            "Engineers use 3D printing to make prototypes quickly before paying for expensive production tools.",
            "Hospitals have used 3D-printed models of patients' organs to plan complicated operations.",
            "Printed parts are often weaker along the layer lines, which matters for pieces that must carry loads.",
        ),
    ),
    Subject(
        "the Viking Age",
        "history",
        "The Viking Age ran from the late eighth century to about 1066. Norse farmers, traders and raiders from "
        "Scandinavia sailed as far as Baghdad and North America and settled Iceland and parts of Britain.",
        (
            "The Viking Age is usually dated from the raid on the monastery of Lindisfarne in 793 to around 1066.",
            "Vikings came from what is now Denmark, Norway and Sweden, and most of them were farmers rather than "
            "full-time warriors.",
            "Viking longships were light and shallow, so they could cross open sea and also sail far up rivers.",
            "Norse traders reached as far as Baghdad and Constantinople, exchanging furs and amber for silver.",
            "Norse settlers arrived in Iceland around 870 and later founded settlements in Greenland.",
            "Around the year 1000, Leif Erikson reached North America, and the remains of a Norse site survive at "
            "L'Anse aux Meadows in Newfoundland.",
            "Much of what we know comes from sagas written down in Iceland centuries after the events they describe.",
            "Viking settlers left their mark on English place names, such as towns ending in -by and -thorpe.",
        ),
    ),
    Subject(
        "remote work",
        "learning and work",
        "Remote work spread quickly after 2020. People value the time saved on commuting, while teams have had "
        "to rely on written communication, and many have settled on a hybrid mix of home and office days.",
        (
            "Remote work became far more common after 2020, when many offices closed during the pandemic.",
            "Many employees value the time saved on commuting, which can add up to several hours a week.",
            "Working from home can blur the line between work and private life, so some people keep fixed start "
            "and finish times.",
            "Teams that work remotely rely heavily on written communication and shared documents.",
            "Some managers worry that junior staff learn less when they cannot watch experienced colleagues at work.",
            "Hybrid arrangements, with two or three office days a week, have become a common compromise.",
            "A dedicated workspace, even a small corner of a room, helps many people concentrate.",
            "Remote work has let some people move away from expensive cities while keeping their jobs.",
        ),
    ),
    Subject(
        "fermented foods",
        "cooking",
        "Fermented foods such as sauerkraut, yoghurt, miso and kombucha are made by letting bacteria or yeast "
        "transform the food, which preserves it and gives it a sour or savoury taste.",
        (
            "Fermentation uses microorganisms such as bacteria and yeast to transform food.",
            "Sauerkraut and kimchi are made by salting cabbage and letting lactic acid bacteria turn its sugars "
            "into acid.",
            "The acid preserves the vegetables, which is why fermenting was an important way to store food before "
            "refrigerators.",
            "Yoghurt is milk fermented by bacteria that thicken it and give it a tangy taste.",
            "Soy sauce, miso and tempeh are fermented soybean products that are central to several Asian cuisines.",
            "Kombucha is sweetened tea fermented by a culture of bacteria and yeast, which makes it slightly fizzy.",
            "Fermenting at home needs clean jars and the right amount of salt to keep harmful bacteria away.",
            "Researchers are studying whether the live cultures in some fermented foods are good for the gut.",
        ),
    ),
    Subject(
        "the Great Depression",
        "history",
        "The Great Depression was the severe worldwide slump of the 1930s that followed the 1929 Wall Street "
        "crash, with failed banks, mass unemployment and shrinking trade, and it shaped economic policy for "
        "decades.",
        (
            "The Great Depression was a severe worldwide economic downturn that began in 1929 and lasted through "
            "much of the 1930s.",
            "The slump is often dated from the Wall Street crash of October 1929, when share prices in New York "
            "collapsed.",
            "Thousands of American banks failed, and many families lost their savings.",
            "At its worst, around a quarter of the American workforce was unemployed.",
            "World trade shrank sharply as countries raised tariffs to protect their own industries.",
            "In the United States, President Franklin D. Roosevelt's New Deal created public works programmes and "
            "new rules for banks.",
            "Drought on the southern Great Plains created the Dust Bowl, forcing many farming families to move west.",
            "The experience shaped later policies such as deposit insurance and unemployment benefits.",
        ),
    ),
    Subject(
        "learning a language as an adult",
        "learning and work",
        "Adults can learn a new language well with short daily practice, lots of listening and reading they "
        "can understand, spaced repetition for vocabulary, and speaking early despite mistakes.",
        (
            "Adults can learn new languages well, even if they rarely lose their accent completely.",
            "Short daily practice tends to work better than one long session a week.",
            "Spaced repetition apps show a word again just before you are likely to forget it.",
            "Listening to plenty of material you can mostly understand, such as podcasts for learners, builds "
            "comprehension.",
            "Speaking with others early, even with many mistakes, helps learners get comfortable using the language.",
            "The thousand most common words cover a large share of everyday conversation in most languages.",
            "Learners often hit a plateau at the intermediate level, where progress feels slower than at the start.",
            "Graded readers, books written for learners, help vocabulary grow without constant trips to the "
            "dictionary.",
        ),
    ),
    Subject(
        "electric cars",
        "technology",
        "Electric cars run on batteries and motors instead of an engine. They are cheap to charge at home, need "
        "little maintenance and have no exhaust, though making batteries has its own environmental cost.",
        (
            "Electric cars run on batteries and electric motors instead of a petrol or diesel engine.",
            "Electric cars produce no exhaust at the tailpipe, though making the batteries and generating the "
            "electricity have their own emissions.",
            "Many new electric cars can travel between 300 and 500 kilometres on a full charge.",
            "Charging at home overnight is usually the cheapest option, while motorway fast chargers can add "
            "hundreds of kilometres of range in half an hour.",
            "Electric motors deliver full power from a standstill, which makes the cars feel quick when pulling away.",
            "Regenerative braking lets the motor recover energy when the car slows down.",
            "Batteries slowly lose capacity over the years, and most makers guarantee them for about eight years.",
            "Electric cars have fewer moving parts than petrol cars, so they generally need less routine maintenance.",
        ),
    ),
    Subject(
        "impressionism",
        "arts",
        "Impressionism was a French painting movement of the 1860s and 1870s. Painters such as Monet worked "
        "outdoors with quick, visible brushstrokes to capture light and everyday life, and were first rejected "
        "by the art establishment.",
        (
            "Impressionism began in France in the 1860s and 1870s among painters such as Claude Monet, Camille "
            "Pissarro and Berthe Morisot.",
            "The name came from Monet's painting Impression, Sunrise, which a critic mocked in 1874.",
            "Impressionists often painted outdoors to capture changing light and weather.",
            "Impressionist painters used visible brushstrokes and bright, unmixed colours placed side by side.",
            "Impressionist subjects were often everyday scenes such as cafés, railway stations, gardens and people "
            "at leisure.",
            "The official art world rejected much of their work, so they organised their own exhibitions.",
            "Paint sold in tubes, new at the time, made painting outdoors much easier.",
            "Monet painted the same haystacks and cathedral front many times to show how light changes through "
            "the day.",
        ),
    ),
    Subject(
        "cycling in cities",
        "everyday life",
        "Cities that build safe, separated bike lanes and secure parking get many more people cycling, and for "
        "short trips a bike is often as fast as a car while adding exercise to the day.",
        (
            "Cities such as Copenhagen and Amsterdam have shown that cycling can be a main way of getting around.",
            "Bike lanes separated from traffic by kerbs or barriers make many more people willing to cycle.",
            "For trips under five kilometres, a bicycle is often as fast as a car once parking is counted.",
            "Cycling regularly improves heart health and fits exercise into the daily commute.",
            "Secure parking matters, because fear of theft stops many people from cycling to the station or the shops.",
            "Electric bikes have made longer distances and hilly routes practical for more riders.",
            "Bike-share schemes let people rent a bicycle for a single trip without owning one.",
            "Good lights, a bell and well-maintained brakes are basic safety equipment for city riding.",
        ),
    ),
    Subject(
        "volcanoes",
        "nature",
        "Volcanoes form where magma rises through the crust, mostly along the edges of tectonic plates. Runny "
        "lava gives gentle eruptions and sticky magma explosive ones, and scientists watch for warning signs.",
        (
            "A volcano forms where molten rock, called magma, rises through the Earth's crust and erupts at the "
            "surface.",
            "Most volcanoes are found along the edges of tectonic plates, especially around the Pacific Ring of Fire.",
            "Runny basalt lava, like that in Hawaii, usually produces gentle eruptions with flowing lava.",
            "Thick, sticky magma traps gas and can lead to violent, explosive eruptions.",
            "The eruption of Mount Vesuvius in the year 79 buried the Roman towns of Pompeii and Herculaneum.",
            "Volcanic ash can ground flights, as happened across Europe after an Icelandic eruption in 2010.",
            "Soil formed from volcanic material is often very fertile, which is why farms crowd the slopes of some "
            "volcanoes.",
            "Scientists watch for small earthquakes, swelling of the ground and changes in gas that can warn of an "
            "eruption.",
        ),
    ),
    Subject(
        "personal budgeting",
        "finance",
        "A budget is a plan for your money: track what you spend, split income between needs, wants and "
        "savings, keep an emergency fund, and review the plan regularly instead of giving up on it.",
        (
            "A budget is a plan for how you will spend and save the money you expect to receive.",
            "The first step is usually tracking every expense for a month to see where the money actually goes.",
            "The 50/30/20 rule suggests spending half of take-home pay on needs, 30 percent on wants and 20 "
            "percent on savings or debt.",
            "Fixed costs such as rent stay the same each month, while variable costs such as groceries change.",
            "An emergency fund covering three to six months of essential costs protects you from sudden shocks.",
            "Small regular expenses, like takeaway coffees or forgotten subscriptions, often add up to more than "
            "people expect.",
            "Moving money into savings automatically on payday makes it easier to stick to the plan.",
            "A budget works best when it is reviewed regularly and adjusted, rather than abandoned after one bad "
            "month.",
        ),
    ),
    Subject(
        "tea",
        "cooking",
        "All true tea comes from one plant, Camellia sinensis, processed in different ways into green, black, "
        "white or oolong tea. It spread from China to the rest of the world and became central to British trade.",
        (
            "Tea is made from the leaves of Camellia sinensis, and it was first drunk in China thousands of years ago.",
            "Green, black, white and oolong teas all come from the same plant but are processed differently.",
            "Black tea is fully oxidised, which gives it a darker colour and a stronger flavour than green tea.",
            "Tea reached Europe in the seventeenth century through Dutch and Portuguese traders.",
            "In Britain, tea became so popular that it shaped trade with China and later the planting of tea "
            "estates in India.",
            "Water that is too hot can make green tea bitter, so it is often brewed at around 70 to 80 degrees "
            "Celsius.",
            "Herbal drinks such as peppermint or chamomile are often called tea, although they contain no tea leaves.",
            "Tea contains caffeine, usually less per cup than coffee.",
        ),
    ),
    Subject(
        "the Olympic Games",
        "sports",
        "The Olympics began in ancient Greece and were revived in 1896 by Pierre de Coubertin. Today the Summer "
        "and Winter Games alternate every two years, followed by the Paralympics, and hosting them is costly.",
        (
            "The ancient Olympic Games were held at Olympia in Greece from around 776 BC in honour of Zeus.",
            "The early Games had a single footrace, and events such as wrestling and chariot racing were added "
            "over time.",
            "The modern Olympics were revived by Pierre de Coubertin, and the first modern Games took place in "
            "Athens in 1896.",
            "The Winter Olympics were added in 1924, with the first held in Chamonix, France.",
            "The five interlocking rings on the Olympic flag stand for the coming together of athletes from "
            "around the world.",
            "Since 1994 the Summer and Winter Games have been held two years apart instead of in the same year.",
            "Hosting the Games requires huge spending on venues, transport and security, and some cities struggle "
            "with the costs afterwards.",
            "The Paralympic Games, for athletes with disabilities, are held in the same host city shortly after "
            "the Olympics.",
        ),
    ),
]


class PassagePicker:
    """Passages of 3 to 5 sentences of one subject, in their order. A new passage may share at most
    half of its sentences' union with any earlier passage of the subject (set Jaccard <= 0.5), so
    two prompts never quote nearly the same text."""

    def __init__(self, rng: random.Random):
        self.rng = rng
        self.used: dict[str, list[frozenset[int]]] = {s.name: [] for s in SUBJECTS}

    def pick(self, sizes: tuple[int, ...] = (3, 4, 4, 5)) -> tuple[Subject, list[str]]:
        for _ in range(2000):
            subject = self.rng.choice(SUBJECTS)
            size = self.rng.choice(sizes)
            chosen = frozenset(self.rng.sample(range(len(subject.sentences)), size))
            if all(len(chosen & u) / len(chosen | u) <= 0.5 for u in self.used[subject.name]):
                self.used[subject.name].append(chosen)
                return subject, [subject.sentences[i] for i in sorted(chosen)]
        raise RuntimeError("the sentence banks ran out of distinct passages: add subjects or sentences")


# --- product reviews --------------------------------------------------------------------------

PRODUCTS: list[tuple[str, list[str]]] = [
    ("wireless earbuds", ["sound quality", "battery life", "fit", "charging case", "microphone"]),
    ("a cast-iron skillet", ["weight", "heat retention", "factory seasoning", "handle", "price"]),
    ("a hiking backpack", ["hip belt", "number of pockets", "rain cover", "back ventilation", "zips"]),
    ("a standing desk", ["motor", "stability at full height", "assembly instructions", "desktop finish"]),
    ("a robot vacuum", ["suction", "app", "navigation", "noise level", "dust bin size"]),
    ("an electric kettle", ["boiling speed", "lid", "temperature settings", "noise", "limescale filter"]),
    ("trail running shoes", ["grip", "cushioning", "toe box", "laces", "durability"]),
    ("a paperback thriller", ["plot", "ending", "main character", "pacing", "print quality"]),
    ("a budget smartphone", ["screen", "camera", "battery", "speed", "software updates"]),
    ("a yoga mat", ["grip", "thickness", "smell", "carrying strap", "price"]),
    ("a children's bike", ["brakes", "weight", "assembly", "stabilisers", "paint"]),
    ("a mechanical keyboard", ["switches", "keycaps", "backlight", "software", "cable"]),
    ("a down winter jacket", ["warmth", "hood", "pockets", "zip", "sizing"]),
    ("a coffee grinder", ["grind consistency", "noise", "cleaning", "hopper", "price"]),
    ("a tent for two people", ["setup time", "waterproofing", "weight", "inner space", "pegs"]),
    ("noise-cancelling headphones", ["noise cancelling", "comfort", "call quality", "battery", "case"]),
    ("a desk lamp", ["brightness", "colour temperature", "arm", "base", "touch controls"]),
    ("an online Spanish course", ["video lessons", "exercises", "teacher feedback", "app", "price"]),
    ("a board game for families", ["rules", "components", "playing time", "replay value", "box insert"]),
    ("a food processor", ["blades", "bowl size", "noise", "cleaning", "attachments"]),
    ("a smartwatch", ["battery life", "heart-rate sensor", "strap", "screen", "app"]),
    ("a gardening glove set", ["fit", "thorn protection", "grip", "breathability", "durability"]),
]

_GOOD = [
    "The {a} {is} honestly better than I expected.",
    "I was impressed by the {a}.",
    "The {a} {is} excellent for the price.",
    "No complaints at all about the {a}.",
    "What sold me was the {a}.",
    "The {a} {is} the best part.",
    "My partner, who is hard to please, loves the {a}.",
    "The {a} {is} a real step up from what I had before.",
]
_BAD = [
    "The {a}, though, {is} a letdown.",
    "I expected much more from the {a}.",
    "The {a} {is} the weak point.",
    "I really don't like the {a}.",
    "The {a} {is} worse than on the one I had before.",
    "Be warned that the {a} {is} nothing like the description.",
    "The {a} {was} the first thing to annoy me.",
    "Several reviews warned about the {a}, and they were right.",
]
_OPEN = [
    "Bought {p} last month after a lot of research.",
    "I got {p} as a birthday present.",
    "Ordered {p} to replace one that finally died.",
    "I've been using {p} for about six weeks now.",
    "Picked up {p} on sale.",
    "This is the second time I have bought {p}.",
]
_CLOSE = [
    "Would I buy the same again? Probably yes.",
    "I'm returning the order.",
    "Three stars from me.",
    "Overall I'd give it four out of five.",
    "Not sure it was worth the money, honestly.",
    "Two stars, and that's generous.",
    "Five stars, I'd recommend it to anyone.",
    "It does the job, nothing more.",
]


def review(rng: random.Random) -> tuple[str, str]:
    """(product, review text): an opening, two to four aspects praised or criticised, a verdict."""
    product, aspects = rng.choice(PRODUCTS)
    parts = [rng.choice(_OPEN).format(p=product)]
    for aspect in rng.sample(aspects, rng.randint(2, min(4, len(aspects)))):
        plural = aspect.endswith("s") and not aspect.endswith("ness") and not aspect.startswith("number of")
        verbs = {"is": "are", "was": "were"} if plural else {"is": "is", "was": "was"}
        parts.append(rng.choice(_GOOD if rng.random() < 0.5 else _BAD).format(a=aspect, **verbs))
    parts.append(rng.choice(_CLOSE))
    return product, " ".join(parts)


# --- event notices ----------------------------------------------------------------------------

EVENTS = [
    "book swap",
    "charity fun run",
    "beginners' pottery workshop",
    "open day at the fire station",
    "jazz evening",
    "repair café",
    "farmers' market",
    "rapid chess tournament",
    "beach clean-up",
    "coding club for teenagers",
    "plant sale",
    "outdoor film night",
    "first aid course",
    "quiz night",
    "choir concert",
    "bike maintenance class",
    "community garden planting day",
    "photography walk",
]
PLACES = [
    "the community hall on Mill Street",
    "Riverside Park, next to the bandstand",
    "St. Anne's primary school",
    "the public library's meeting room",
    "the old tram depot",
    "Harbour Square",
    "the sports centre on Elm Road",
    "the back room of the Red Lion",
    "Northfield allotments",
    "the town museum's courtyard",
]
MONTHS = ["March", "April", "May", "June", "July", "September", "October", "November"]
DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
NAMES = [
    "Amira",
    "Ben",
    "Chloe",
    "Dev",
    "Elena",
    "Farid",
    "Grace",
    "Hugo",
    "Ines",
    "Jonas",
    "Keiko",
    "Liam",
    "Marta",
    "Nadia",
    "Oscar",
    "Priya",
    "Quentin",
    "Rosa",
    "Sami",
    "Tomas",
    "Uma",
    "Viktor",
    "Wen",
    "Yusuf",
    "Zoe",
]


def notice(rng: random.Random) -> tuple[str, str]:
    """(event, notice text) with a date, a time, a place, a price and a contact, in varied order."""
    event, place, name = rng.choice(EVENTS), rng.choice(PLACES), rng.choice(NAMES)
    day, date, month = rng.choice(DAYS), rng.randint(1, 28), rng.choice(MONTHS)
    hour = rng.randint(9, 19)
    time = f"{hour % 12 or 12}{'' if rng.random() < 0.5 else ':30'} {'am' if hour < 12 else 'pm'}"
    price = rng.choice(["Entry is free.", f"Tickets cost {rng.randint(2, 15)} pounds.", "Pay what you can."])
    price = rng.choice([price, f"It costs {rng.randint(3, 20)} euros per person, children half price."])
    heads = [
        f"Join us for a {event} on {day} {date} {month} at {place}, starting at {time}.",
        f"{event.capitalize()}! {day} {date} {month}, {time}, {place}.",
        f"The neighbourhood association is holding a {event} at {place} on {day} {date} {month} from {time}.",
    ]
    extras = [
        "Please bring your own cup.",
        "There is step-free access at the side entrance.",
        "Dogs on leads are welcome.",
        "Places are limited to 25, so book early.",
        "Children must be accompanied by an adult.",
        "Parking is very limited, so please walk or cycle if you can.",
        "If it rains, we move indoors to the hall next door.",
        "Refreshments will be on sale, with all profits going to the local food bank.",
        "No experience needed.",
    ]
    contact = rng.choice(
        [
            f"To sign up, email {name.lower()}@example.org.",
            f"Questions? Ask {name} on 07700 900{rng.randint(100, 999)}.",
            f"Organised by {name} and friends; sign-up sheet at the library desk.",
        ]
    )
    body = [rng.choice(heads), price, *rng.sample(extras, rng.randint(1, 3)), contact]
    return event, " ".join(body)


# --- customer messages ------------------------------------------------------------------------

MESSAGES: list[str] = [
    "Hi, I ordered a blue lamp three weeks ago and it still hasn't arrived. The tracking page hasn't changed "
    "since the 4th. Can someone tell me what is going on?",
    "Just wanted to say the delivery driver yesterday was lovely, he carried the boxes up four flights of "
    "stairs without being asked. Please pass on my thanks.",
    "Do your gift cards expire? My aunt gave me one two years ago and I never used it.",
    "I was charged twice for the same order (#20931). Please refund the second payment as soon as possible.",
    "Could you change the delivery address on my order to my office? It's 12 Bank Lane, 2nd floor.",
    "The instructions for assembling the bookshelf are missing step 7 entirely. I'm stuck with half a shelf.",
    "Is the green sofa available in a smaller size? The product page only shows one option.",
    "Your app logs me out every time I switch to another app. It's been like this since the last update.",
    "I love the new autumn range, especially the wool scarves. Any chance you'll make them in grey?",
    "I need to cancel my subscription before it renews on Friday, but the cancel button gives an error.",
    "The shoes I got are a size too small even though I ordered my usual size. How do I swap them?",
    "Can I pay for an order in three instalments, or do I need to pay everything upfront?",
    "My parcel was left outside in the rain and the cardboard box with the printer inside is soaked.",
    "Great service as always. The replacement part arrived the very next day and fitted perfectly.",
    "Why has the price of my monthly plan gone up by four euros without any email telling me?",
    "Please remove my email address from your newsletter list. I've unsubscribed twice already.",
    "Do you ship to Norway, and if so, will I have to pay import tax when the parcel arrives?",
    "The coffee machine leaks water from the bottom every time I make a second cup in a row.",
    "I'd like to book a technician to install the dishwasher I bought. Which days are available next week?",
    "Your website says the store opens at nine but it was still closed at half past nine this morning.",
    "Thank you for the quick refund. I didn't expect it to be so easy.",
    "How long is the warranty on the vacuum cleaner, and does it cover the battery?",
]

# --- meeting notes ----------------------------------------------------------------------------

ACTIONS = [
    "{n} will send the revised budget to finance by {d}.",
    "{n} is going to book the venue for the spring workshop.",
    "{n} agreed to draft the customer survey and share it before {d}.",
    "We decided to postpone the website redesign until the new year.",
    "{n} will call the printer about the delayed brochures.",
    "{n} needs to update the onboarding document with the new security rules by {d}.",
    "Everyone should review the draft contract and leave comments by {d}.",
    "{n} and {m} will interview the two remaining candidates on {d}.",
    "The team agreed to move the weekly check-in to the afternoon.",
    "{n} will ask IT why the shared drive keeps disconnecting.",
    "{n} promised to collect quotes from three cleaning companies.",
    "We still don't know who owns the social media account; {n} will find out by {d}.",
    "{m} will prepare the slides for the board presentation.",
    "{n} reported that the new supplier delivered late twice this month.",
    "The budget for the summer party was capped at 800 euros.",
    "{m} will write to the council about the broken streetlight outside the office.",
    "{n} is on leave from {d}, so {m} will cover the front desk.",
    "{n} will test the new booking system with five real customers before {d}.",
]


def meeting_notes(rng: random.Random) -> str:
    """Notes of a team meeting: attendees, then four to six decisions and actions."""
    people = rng.sample(NAMES, 4)
    lines = [f"Team meeting, {rng.choice(DAYS)}. Present: {', '.join(people)}."]
    for action in rng.sample(ACTIONS, rng.randint(4, 6)):
        n, m = rng.sample(people, 2)
        lines.append(action.format(n=n, m=m, d=rng.choice(DAYS)))
    return "\n".join(lines)
