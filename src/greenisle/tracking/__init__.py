"""Vehicle tracking: terminal protocols for the collection trucks (JT/T 808)."""
