"""pbxctl end-to-end tests (a package, so its conftest never shadows another
test directory's `conftest` module)."""
