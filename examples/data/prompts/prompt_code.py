"""Small programming tasks for the code prompts, in four languages, and a few worked Python
answers for the chats that follow up on code. Small on purpose: SmolLM2-135M answers them in a
few dozen lines, and the drafter sees code tokens, not only prose. Terse one-liner requests
("sql one-liner: ...", "bash: rename ...") are a foreign-eval style and are not asked here."""

PYTHON = [
    "check whether a string is a palindrome, ignoring case, spaces and punctuation",
    "count how often each word appears in a text and return the five most common words",
    "flatten a list of nested lists of any depth",
    "merge two sorted lists into one sorted list without calling sort()",
    "return the n-th Fibonacci number without recursion",
    "convert a temperature between Celsius and Fahrenheit, with the target unit passed as an argument",
    "split a list into chunks of a given size",
    "remove duplicates from a list while keeping the order in which items first appear",
    "find the second largest number in a list of integers",
    "compute the moving average of a list of numbers for a given window size",
    "read a CSV file and return the average of one numeric column",
    "group a list of dictionaries by the value of a given key",
    "check whether two strings are anagrams of each other",
    "list all prime numbers below a limit using the sieve of Eratosthenes",
    "convert a Roman numeral such as XIV into an integer",
    "format a number of seconds as hours, minutes and seconds, like 1:02:05",
    "find the longest common prefix of a list of strings",
    "rotate a square matrix, given as a list of lists, by 90 degrees clockwise",
    "parse a query string such as a=1&b=2 into a dictionary",
    "check whether a given year is a leap year",
    "compute the greatest common divisor of two integers with Euclid's algorithm",
    "generate a random password of a given length with letters, digits and symbols",
    "search a sorted list with binary search and return the index of a target, or -1",
    "compress a string like aaabcc into a3b1c2",
    "find every file with a given extension in a folder and its subfolders",
    "retry a function up to three times with a short pause between attempts, written as a decorator",
    "turn a nested dictionary into a flat one with dotted keys such as a.b.c",
    "check whether the brackets in a string are balanced",
    "compute the median of a list without changing the original list",
    "count the number of days between two dates given as strings like 2024-03-01",
    "validate a very simple email address (one @, a dot after it) without regular expressions",
    "return the words of a sentence in reverse order",
    "compute the running total of a list of numbers",
    "find the most common character in a string, ignoring spaces",
    "convert a list of (name, score) pairs into a dictionary keyed by name",
]

JAVASCRIPT = [
    "debounce another function so it only runs after the user has stopped typing for 300 ms",
    "deep clone a plain object without using JSON.stringify",
    "capitalise the first letter of every word in a string",
    "shuffle an array in place with the Fisher-Yates algorithm",
    "sum the values of one property across an array of objects",
    "format a Date object as YYYY-MM-DD",
    "fetch JSON from a URL and return null instead of throwing when the network fails",
    "check whether an object has no own properties",
    "return the unique values of an array",
    "throttle a scroll handler so it runs at most once every 100 ms",
    "convert a string from camelCase to kebab-case",
    "compute the total price of a shopping cart array, adding a tax rate",
    "find the most frequent element of an array",
    "count down from 10 to 0 on the page, one number per second",
    "validate that a form's password field has at least 8 characters and one digit",
    "group an array of objects by one of their properties",
]

SQL_TABLES = {
    "employees": "employees(id, name, department, salary, hire_date)",
    "shop": "customers(id, name, country, signup_date) and orders(id, customer_id, order_date, total)",
    "products": "products(id, name, category, price, stock) and order_items(order_id, product_id, quantity)",
    "school": "students(id, name, class) and exam_results(student_id, subject, score)",
    "library": "books(id, title, author, year) and loans(book_id, member_id, loan_date, return_date)",
}
SQL = [
    ("employees", "the three highest-paid employees in each department"),
    ("employees", "the average salary per department, highest first"),
    ("employees", "everyone hired in the last 90 days"),
    ("employees", "the departments whose average salary is above 50,000"),
    ("shop", "the total revenue per country"),
    ("shop", "the customers who have never placed an order"),
    ("shop", "the month with the highest total sales in 2023"),
    ("shop", "each customer's first order date and the total they have spent"),
    ("products", "the products that are out of stock"),
    ("products", "the best-selling product by quantity"),
    ("products", "the revenue per category"),
    ("school", "each student's average score"),
    ("school", "the top scorer in each subject"),
    ("school", "the students who scored below 50 in at least one subject"),
    ("library", "the books that are currently on loan"),
    ("library", "the members who borrowed more than three books in a single month"),
    ("library", "the author whose books have been borrowed most often"),
    ("library", "the books that have never been borrowed"),
]

SHELL = [
    "back up a folder into a tar.gz archive with today's date in the file name",
    "check whether a website answers with HTTP 200 and print a warning if it does not",
    "count the lines in every .py file in a project and print the total",
    "delete files older than 30 days from a downloads folder, after asking for confirmation",
    "rename the photos in a folder after the date they were last modified",
    "follow a log file and print only the lines that contain ERROR",
    "ping every server listed in a text file and report which ones do not answer",
    "list the ten largest files in the home directory",
    "convert every .wav file in a folder to .mp3 with ffmpeg",
    "create a project folder with src, tests and docs subfolders and an empty README",
    "pull the latest changes in every git repository under a folder",
    "print how much disk space each subfolder of the current folder uses, largest first",
    "count how many times each IP address appears in a web server access log",
]

# Worked answers: (task as in PYTHON, code) for chats with a follow-up question about the code.
SNIPPETS: list[tuple[str, str]] = [
    (
        "check whether a string is a palindrome, ignoring case, spaces and punctuation",
        "def is_palindrome(text):\n"
        "    cleaned = [c.lower() for c in text if c.isalnum()]\n"
        "    return cleaned == cleaned[::-1]",
    ),
    (
        "split a list into chunks of a given size",
        "def chunks(items, size):\n    return [items[i:i + size] for i in range(0, len(items), size)]",
    ),
    (
        "remove duplicates from a list while keeping the order in which items first appear",
        "def unique(items):\n"
        "    seen = set()\n"
        "    out = []\n"
        "    for item in items:\n"
        "        if item not in seen:\n"
        "            seen.add(item)\n"
        "            out.append(item)\n"
        "    return out",
    ),
    (
        "return the n-th Fibonacci number without recursion",
        "def fibonacci(n):\n    a, b = 0, 1\n    for _ in range(n):\n        a, b = b, a + b\n    return a",
    ),
    (
        "check whether a given year is a leap year",
        "def is_leap(year):\n    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)",
    ),
    (
        "compute the greatest common divisor of two integers with Euclid's algorithm",
        "def gcd(a, b):\n    while b:\n        a, b = b, a % b\n    return abs(a)",
    ),
    (
        "check whether the brackets in a string are balanced",
        "def balanced(text):\n"
        "    pairs = {')': '(', ']': '[', '}': '{'}\n"
        "    stack = []\n"
        "    for c in text:\n"
        "        if c in '([{':\n"
        "            stack.append(c)\n"
        "        elif c in pairs:\n"
        "            if not stack or stack.pop() != pairs[c]:\n"
        "                return False\n"
        "    return not stack",
    ),
    (
        "compress a string like aaabcc into a3b1c2",
        "def compress(text):\n"
        "    out = []\n"
        "    i = 0\n"
        "    while i < len(text):\n"
        "        j = i\n"
        "        while j < len(text) and text[j] == text[i]:\n"
        "            j += 1\n"
        "        out.append(f'{text[i]}{j - i}')\n"
        "        i = j\n"
        "    return ''.join(out)",
    ),
    (
        "search a sorted list with binary search and return the index of a target, or -1",
        "def binary_search(items, target):\n"
        "    lo, hi = 0, len(items) - 1\n"
        "    while lo <= hi:\n"
        "        mid = (lo + hi) // 2\n"
        "        if items[mid] == target:\n"
        "            return mid\n"
        "        if items[mid] < target:\n"
        "            lo = mid + 1\n"
        "        else:\n"
        "            hi = mid - 1\n"
        "    return -1",
    ),
    (
        "compute the running total of a list of numbers",
        "def running_total(numbers):\n"
        "    total = 0\n"
        "    out = []\n"
        "    for n in numbers:\n"
        "        total += n\n"
        "        out.append(total)\n"
        "    return out",
    ),
    (
        "find the longest common prefix of a list of strings",
        "def common_prefix(words):\n"
        "    if not words:\n"
        "        return ''\n"
        "    prefix = words[0]\n"
        "    for word in words[1:]:\n"
        "        while not word.startswith(prefix):\n"
        "            prefix = prefix[:-1]\n"
        "    return prefix",
    ),
    (
        "return the words of a sentence in reverse order",
        "def reverse_words(sentence):\n    return ' '.join(reversed(sentence.split()))",
    ),
    (
        "check whether two strings are anagrams of each other",
        "def are_anagrams(a, b):\n"
        "    def normalise(s):\n"
        "        return sorted(s.replace(' ', '').lower())\n"
        "\n"
        "    return normalise(a) == normalise(b)",
    ),
    (
        "convert a Roman numeral such as XIV into an integer",
        "def roman_to_int(numeral):\n"
        "    values = {'I': 1, 'V': 5, 'X': 10, 'L': 50, 'C': 100, 'D': 500, 'M': 1000}\n"
        "    total = 0\n"
        "    for i, c in enumerate(numeral):\n"
        "        v = values[c]\n"
        "        if i + 1 < len(numeral) and values[numeral[i + 1]] > v:\n"
        "            total -= v\n"
        "        else:\n"
        "            total += v\n"
        "    return total",
    ),
    (
        "format a number of seconds as hours, minutes and seconds, like 1:02:05",
        "def format_duration(seconds):\n"
        "    hours, rest = divmod(seconds, 3600)\n"
        "    minutes, secs = divmod(rest, 60)\n"
        "    return f'{hours}:{minutes:02d}:{secs:02d}'",
    ),
    (
        "find the second largest number in a list of integers",
        "def second_largest(numbers):\n"
        "    distinct = sorted(set(numbers))\n"
        "    if len(distinct) < 2:\n"
        "        raise ValueError('need at least two different numbers')\n"
        "    return distinct[-2]",
    ),
    (
        "merge two sorted lists into one sorted list without calling sort()",
        "def merge(a, b):\n"
        "    out, i, j = [], 0, 0\n"
        "    while i < len(a) and j < len(b):\n"
        "        if a[i] <= b[j]:\n"
        "            out.append(a[i])\n"
        "            i += 1\n"
        "        else:\n"
        "            out.append(b[j])\n"
        "            j += 1\n"
        "    return out + a[i:] + b[j:]",
    ),
    (
        "parse a query string such as a=1&b=2 into a dictionary",
        "def parse_query(query):\n"
        "    result = {}\n"
        "    for part in query.split('&'):\n"
        "        if part:\n"
        "            key, _, value = part.partition('=')\n"
        "            result[key] = value\n"
        "    return result",
    ),
    (
        "compute the median of a list without changing the original list",
        "def median(numbers):\n"
        "    ordered = sorted(numbers)\n"
        "    n = len(ordered)\n"
        "    mid = n // 2\n"
        "    if n % 2:\n"
        "        return ordered[mid]\n"
        "    return (ordered[mid - 1] + ordered[mid]) / 2",
    ),
    (
        "turn a nested dictionary into a flat one with dotted keys such as a.b.c",
        "def flatten_dict(d, prefix=''):\n"
        "    flat = {}\n"
        "    for key, value in d.items():\n"
        "        name = f'{prefix}.{key}' if prefix else str(key)\n"
        "        if isinstance(value, dict):\n"
        "            flat.update(flatten_dict(value, name))\n"
        "        else:\n"
        "            flat[name] = value\n"
        "    return flat",
    ),
]
