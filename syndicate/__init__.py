"""syndicate: article files in; RSS, Atom, a web archive and email digests out."""

__version__ = "0.1.0"
