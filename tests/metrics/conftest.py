import os
import sys

# The naive reference implementations live beside the tests (tests/ has no __init__.py).
sys.path.insert(0, os.path.dirname(__file__))
