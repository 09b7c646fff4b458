"""The TV channel's side of the archive: archived lectures of TV offerings packaged as the channel's episodes."""
