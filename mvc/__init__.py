"""mvc: model version control."""

__version__ = "0.1.0"


def __getattr__(name: str):
    # Importing mvc (as `mvc --version` does) must stay cheap: load the API on first use.
    if name == "Repo":
        from mvc.api import Repo

        return Repo
    raise AttributeError(f"module 'mvc' has no attribute {name!r}")


__all__ = ["Repo", "__version__"]
