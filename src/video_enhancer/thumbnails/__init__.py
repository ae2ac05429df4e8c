"""Posters and storyboards of uploaded videos: the worker's light task, never charged."""
