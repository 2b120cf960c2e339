import sys
from pathlib import Path

# tests/opcases (the op test cases written once as data) is imported by test modules in several folders
sys.path.insert(0, str(Path(__file__).parent))
