from arctic_ray.config.recipe import RecipeError, SpecDecodeRecipe, load_recipe, validate_recipe

__all__ = ["RecipeError", "SpecDecodeRecipe", "load_recipe", "validate_recipe"]
