"""SQL storage of chat conversations and their messages."""
