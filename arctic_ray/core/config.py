"""The config machinery of every recipe: `StrictConfig` (unknown fields are errors, field
docstrings are the docs), `Block` (sub-configs that pick their class by a discriminator field, as
the recipes say: `speculator.type: eagle3`, `synth.backend: vllm`) and `PoolSize` (a Ray Data
actor pool: a fixed number, or [min, max] for a pool that autoscales between them).

A Block family subclasses `Block` with `block_kind`, `discriminator` and `home_package` (the
package whose modules define its members); each member subclasses the family with
`<discriminator>: Literal["name"] = "name"` and registers itself on definition. A recipe field
typed `Family.union()` is a pydantic discriminated union over every member discovery finds in the
family's home, so a new backend or drafter is one module and nothing else."""

from __future__ import annotations

import typing
from typing import Annotated, Any, ClassVar, Literal, Union

from pydantic import AfterValidator, BaseModel, ConfigDict, Discriminator, Tag

from arctic_ray.core.registry import home, lookup, names, register


class StrictConfig(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        use_attribute_docstrings=True,
        validate_assignment=True,
        protected_namespaces=(),
    )


class Block(StrictConfig):
    block_kind: ClassVar[str]
    discriminator: ClassVar[str] = "type"
    home_package: ClassVar[str]

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        if "home_package" in cls.__dict__:
            home(cls.block_kind, cls.home_package)
        field = cls.model_fields.get(cls.discriminator)
        if field is not None and typing.get_origin(field.annotation) is Literal:
            (tag,) = typing.get_args(field.annotation)
            register(cls.block_kind, tag, cls)

    def discriminator_value(self) -> str:
        return getattr(self, self.discriminator)

    @classmethod
    def members(cls) -> list[type[Block]]:
        return [lookup(cls.block_kind, name) for name in names(cls.block_kind)]

    @classmethod
    def union(cls, default: str) -> Any:
        """The annotation of a recipe field holding any registered member of this family; a
        section that leaves out the discriminator is the `default` member."""
        members = cls.members()
        if len(members) == 1:
            return members[0]
        key = cls.discriminator

        def tag_of(value: Any) -> str:
            return value.get(key, default) if isinstance(value, dict) else getattr(value, key, default)

        tagged = tuple(Annotated[m, Tag(m.model_fields[key].default)] for m in members)
        return Annotated[Union[tagged], Discriminator(tag_of)]  # noqa: UP007 (`|` cannot join a runtime tuple)


def bounds(size: int | tuple[int, int]) -> tuple[int, int]:
    """(min, max) actors of a pool size."""
    return (size, size) if isinstance(size, int) else size


def _checked(value: int | tuple[int, int]) -> int | tuple[int, int]:
    low, high = bounds(value)
    if low < 1 or high < low:
        raise ValueError(f"needs 1 <= min <= max, got {value}")
    return value


PoolSize = Annotated[int | tuple[int, int], AfterValidator(_checked)]
