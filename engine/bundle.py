"""The bundle: one directory with a manifest and every artifact a build made.

``manifest.json`` records the schema version, the ModelSpec, the tier table, the UNet config
(when the model is the built-in FusionUNet), every artifact with its sha256, and the versions
of the tools that made them. The manifest is rewritten atomically after each artifact, so it
always describes files that are complete on disk.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from pathlib import Path

from fuse_trt.engine.choices import ANY, ArtifactKind
from fuse_trt.engine.files import sha256_file, write_json_atomic
from fuse_trt.engine.spec import ModelSpec
from fuse_trt.engine.tiers import TierTable
from fuse_trt.engine.errors import BundleError

SCHEMA_VERSION = 1
MANIFEST_NAME = "manifest.json"


@dataclass(frozen=True)
class Artifact:
    """One file of the bundle; ``kind`` is an :class:`ArtifactKind` value."""

    file: str
    kind: str
    precision: str
    sha256: str
    backend: str = ANY
    details: dict = field(default_factory=dict, compare=False)


@dataclass(frozen=True)
class Manifest:
    spec: ModelSpec
    tiers: TierTable
    artifacts: tuple[Artifact, ...] = ()
    unet_config: dict | None = None
    tools: dict = field(default_factory=dict)
    memory: dict | None = None  # the budget the tiers' batches were sized for, and the plan
    schema_version: int = SCHEMA_VERSION

    def to_json(self) -> dict:
        return {"schema_version": self.schema_version, "spec": self.spec.to_json(),
                "tiers": self.tiers.to_json(), "unet_config": self.unet_config,
                "tools": self.tools, "memory": self.memory,
                "artifacts": [vars(a) for a in self.artifacts]}

    @classmethod
    def from_json(cls, data: dict) -> Manifest:
        if data.get("schema_version") != SCHEMA_VERSION:
            raise BundleError(f"manifest schema {data.get('schema_version')} is not "
                              f"{SCHEMA_VERSION}; rebuild the bundle with this fuse-trt")
        return cls(spec=ModelSpec.from_json(data["spec"]),
                   tiers=TierTable.from_json(data["tiers"]),
                   artifacts=tuple(Artifact(**a) for a in data["artifacts"]),
                   unet_config=data.get("unet_config"), tools=data.get("tools", {}),
                   memory=data.get("memory"))

    def find(self, kind: ArtifactKind, precision: str | None = None,
             backend: str | None = None) -> list[Artifact]:
        return [a for a in self.artifacts if a.kind == kind
                and (precision is None or a.precision == precision)
                and (backend is None or a.backend in (backend, ANY))]

    def with_artifact(self, artifact: Artifact) -> Manifest:
        kept = tuple(a for a in self.artifacts if a.file != artifact.file)
        return replace(self, artifacts=(*kept, artifact))


@dataclass(frozen=True)
class Bundle:
    directory: Path
    manifest: Manifest

    @classmethod
    def load(cls, directory: Path) -> Bundle:
        directory = Path(directory)
        manifest_path = directory / MANIFEST_NAME
        if not directory.is_dir():
            raise BundleError(f"{directory}: bundle directory not found")
        if not manifest_path.is_file():
            raise BundleError(f"{directory}: not a fuse-trt bundle (no {MANIFEST_NAME})")
        try:
            data = json.loads(manifest_path.read_text())
            manifest = Manifest.from_json(data)
        except (ValueError, KeyError, TypeError) as error:
            raise BundleError(f"{manifest_path}: unreadable manifest ({error})") from error
        return cls(directory=directory, manifest=manifest)

    @property
    def spec(self) -> ModelSpec:
        return self.manifest.spec

    @property
    def tiers(self) -> TierTable:
        return self.manifest.tiers

    def artifact_path(self, kind: ArtifactKind, precision: str, backend: str | None = None,
                      verify: bool = True, file: str | None = None) -> Path:
        """Path of the artifact of ``kind`` and ``precision`` (the newest, or the one named
        ``file``), checked against its sha256."""
        matches = [a for a in self.manifest.find(kind, precision, backend)
                   if file is None or a.file == file]
        if not matches:
            have = sorted({f"{a.kind}/{a.precision}" for a in self.manifest.artifacts})
            raise BundleError(f"{self.directory}: no {kind} artifact for precision {precision} "
                              f"(bundle has {', '.join(have)}); build it with "
                              f"`fuse-trt build --precision {precision} -o {self.directory}`")
        artifact = matches[-1]
        path = self.directory / artifact.file
        if not path.is_file():
            raise BundleError(f"{path}: listed in the manifest but missing")
        if verify and sha256_file(path) != artifact.sha256:
            raise BundleError(f"{path}: sha256 does not match the manifest (file changed?)")
        return path

    def add_artifact(self, path: Path, kind: ArtifactKind, precision: str, backend: str = ANY,
                     details: dict | None = None) -> Bundle:
        """Record a file already written (atomically) inside the bundle directory."""
        artifact = Artifact(file=Path(path).name, kind=str(kind), precision=str(precision),
                            sha256=sha256_file(path), backend=str(backend),
                            details=details or {})
        bundle = replace(self, manifest=self.manifest.with_artifact(artifact))
        bundle.save()
        return bundle

    def save(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        write_json_atomic(self.directory / MANIFEST_NAME, self.manifest.to_json())
