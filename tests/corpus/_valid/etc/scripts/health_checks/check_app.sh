#!/bin/sh
# Health check of the app container (corpus fixture).
curl -fsS "$1" >/dev/null
