# Loads the course's pytest plugin (grader/pytest_plugin.py): every test receives its section
# through a fixture named after the module (e.g. `attention_math`). Plain `pytest` tests your
# code in exercises/; `pytest --impl solutions` tests the reference solutions.
pytest_plugins = ("grader.pytest_plugin",)
