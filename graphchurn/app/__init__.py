"""The application layer (command line, web workspace, report): it calls the library, never the reverse."""
