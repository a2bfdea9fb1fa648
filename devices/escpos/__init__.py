"""ESC/POS decoding: the byte stream a receipt printer receives, turned back into lines, images and a
picture."""
