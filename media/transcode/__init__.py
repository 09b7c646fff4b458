"""What recording, composition, the archive and broadcast share: the ffmpeg runner, PyAV probing,
EBU R128 loudness and encoding profiles."""
