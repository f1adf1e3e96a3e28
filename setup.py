"""Packages are found below the prefix mappings of setup.cfg's package_dir, so a new module
or subpackage in any of the user's folders is installed without editing a list."""
import configparser

from setuptools import find_namespace_packages, setup


def mapped_packages() -> list[str]:
    config = configparser.ConfigParser()
    config.read("setup.cfg")
    mapping = dict(line.split(" = ") for line in
                   config["options"]["package_dir"].strip().splitlines())
    packages = set()
    for prefix, folder in mapping.items():
        packages.add(prefix)
        packages.update(f"{prefix}.{name}" for name in find_namespace_packages(
            folder, exclude=["*__pycache__*", "*.egg-info*"]))
    return sorted(packages)


setup(packages=mapped_packages())
