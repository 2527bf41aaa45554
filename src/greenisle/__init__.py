"""greenisle (绿岛): hazardous-waste collection and supervision for small and micro enterprises."""

__version__ = "0.1.0"
