"""Audio and other media tools (ffmpeg)."""
