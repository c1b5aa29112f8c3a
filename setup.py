"""The one packaging fact pyproject.toml cannot state with automatic discovery: the
repository's top-level themes/ folder is shipped as the package cockpit.themes (its *.toml
files as package data, mapped in pyproject.toml's package-dir), so a wheel, `pipx install` or
`uv tool install` has every theme while the repository keeps themes/ where people look."""

from setuptools import find_packages, setup

setup(packages=[*find_packages(include=["cockpit", "cockpit.*"]), "cockpit.themes"])
