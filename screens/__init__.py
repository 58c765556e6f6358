"""The Textual skin over ``wizard``. Importing this package loads no Textual; ``screens.app`` does."""
