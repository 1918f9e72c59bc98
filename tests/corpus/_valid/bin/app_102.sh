#!/bin/sh
# Application script of container 102 (corpus fixture; in bin/ beside etc/, as the original kept them).
echo configured
