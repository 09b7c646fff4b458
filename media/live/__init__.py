"""The live media plane: an aiortc SFU that forwards encoded RTP frames without decoding them."""
