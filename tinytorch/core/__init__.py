"""The modules of TinyTorch, one per concept. Files here are generated from src/ by `make export`,
except this one."""
