"""Text in photos: Tesseract OCR in a child process, which photos to read, and the resumable background job."""
