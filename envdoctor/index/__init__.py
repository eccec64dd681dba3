"""The wheel index: reading it (`fetch`, `crawl`), parsing its pages (`pages`) and deriving knowledge (`derive`)."""
