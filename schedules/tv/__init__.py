"""The TV side: a channel's broadcast day, its fill, the channel file, XMLTV and playout playlists."""
