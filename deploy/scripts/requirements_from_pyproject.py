"""Print the dependencies of pyproject.toml (and of the extras named as arguments), one a line.

The images install these before copying the source, so a code change reuses the cached layer
with every dependency and only reinstalls the project itself (`pip install --no-deps .`).
"""

import sys
import tomllib

with open("pyproject.toml", "rb") as file:
    project = tomllib.load(file)["project"]
requirements = list(project["dependencies"])
for extra in sys.argv[1:]:
    requirements += project["optional-dependencies"][extra]
print("\n".join(requirements))
