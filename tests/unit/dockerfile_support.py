"""Reading the Dockerfile and its build context the way Docker does, without a Docker
engine: the instructions through BuildKit's own parser (the `dockerfile` package wraps
its Go code), stages with their base image and commands, `.dockerignore` with Docker's
rules, and a stage's COPYs from the context laid out in a directory."""

import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import dockerfile


@dataclass(frozen=True, slots=True)
class Stage:
    """One `FROM … [AS name]` and the instructions up to the next FROM."""

    image: str
    name: str | None
    commands: tuple[dockerfile.Command, ...] = field(default=())

    def of(self, instruction: str) -> list[dockerfile.Command]:
        return [c for c in self.commands if c.cmd == instruction.upper()]

    def workdir_at(self, command: dockerfile.Command) -> PurePosixPath:
        """The working directory in effect at `command` (WORKDIR may be relative)."""
        current = PurePosixPath("/")
        for c in self.commands:
            if c is command:
                break
            if c.cmd == "WORKDIR":
                current = current / c.value[0]
        return current


def _substitute(text: str, args: dict[str, str]) -> str:
    return re.sub(r"\$\{(\w+)\}|\$(\w+)", lambda m: args.get(m[1] or m[2], m[0]), text)


def stages(path: Path) -> list[Stage]:
    """The stages of a Dockerfile, `ARG`s declared before the first FROM substituted into
    the FROM lines (as Docker does)."""
    global_args: dict[str, str] = {}
    found: list[Stage] = []
    for command in dockerfile.parse_file(str(path)):
        if command.cmd == "ARG" and not found:
            name, _, default = command.value[0].partition("=")
            global_args[name] = default
        elif command.cmd == "FROM":
            image = _substitute(command.value[0], global_args)
            name = command.value[2] if len(command.value) == 3 and command.value[1].upper() == "AS" else None
            found.append(Stage(image=image, name=name))
        elif found:
            last = found[-1]
            found[-1] = Stage(image=last.image, name=last.name, commands=(*last.commands, command))
    return found


def copy_from(command: dockerfile.Command) -> str | None:
    """The stage (or image) a COPY takes its files from; None = the build context."""
    for flag in command.flags:
        if flag.startswith("--from="):
            return flag.removeprefix("--from=")
    return None


# -- .dockerignore -----------------------------------------------------------------------


def _pattern(text: str) -> re.Pattern[str]:
    """A .dockerignore pattern (Go's filepath.Match plus `**`) as a regular expression over
    a slash-separated path relative to the context root."""
    text = str(PurePosixPath(text.strip("/")))
    out, i = "", 0
    while i < len(text):
        if text.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
        elif text.startswith("**", i):
            out, i = out + ".*", i + 2
        elif text[i] == "*":
            out, i = out + "[^/]*", i + 1
        elif text[i] == "?":
            out, i = out + "[^/]", i + 1
        elif text[i] == "[":
            end = text.index("]", i)
            out, i = out + "[" + text[i + 1:end].replace("!", "^", 1) + "]", end + 1
        else:
            out, i = out + re.escape(text[i]), i + 1
    return re.compile(out)


@dataclass(frozen=True, slots=True)
class DockerIgnore:
    """The patterns of a .dockerignore: a path is left out of the build context when the
    last pattern matching it or one of its parent directories is not a `!` exception."""

    patterns: tuple[tuple[bool, re.Pattern[str]], ...]

    @classmethod
    def read(cls, path: Path) -> "DockerIgnore":
        patterns = []
        for line in path.read_text().splitlines():
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            negated = line.startswith("!")
            patterns.append((negated, _pattern(line.removeprefix("!").strip())))
        return cls(tuple(patterns))

    def ignores(self, relative: str) -> bool:
        parts = PurePosixPath(relative).parts
        prefixes = ["/".join(parts[:n]) for n in range(1, len(parts) + 1)]
        ignored = False
        for negated, regex in self.patterns:
            if any(regex.fullmatch(p) for p in prefixes):
                ignored = not negated
        return ignored


def context_files(root: Path, ignore: DockerIgnore, under: str = "") -> list[str]:
    """Every file (or symbolic link) below `root/under` that the build context holds."""
    found = []
    start = root / under if under else root
    if start.is_file() or start.is_symlink():
        return [under] if not ignore.ignores(under) else []
    for path in sorted(start.rglob("*")):
        relative = path.relative_to(root).as_posix()
        if (path.is_file() or path.is_symlink()) and not ignore.ignores(relative):
            found.append(relative)
    return found


def lay_out(stage: Stage, context: Path, ignore: DockerIgnore, target: Path) -> None:
    """Copy what `stage`'s context COPYs into `target` (standing for the image's /), as
    Docker does: a directory source copies its content, symbolic links stay links, a
    relative destination is under the WORKDIR in effect, ignored files are not there."""
    for command in stage.of("COPY"):
        if copy_from(command) is not None:
            continue
        *sources, dest = command.value
        base = stage.workdir_at(command) / dest
        for source in sources:
            for relative in context_files(context, ignore, source.rstrip("/")):
                inside = PurePosixPath(relative).relative_to(source.rstrip("/")) if (
                    context / source).is_dir() else PurePosixPath(PurePosixPath(relative).name)
                into = base / inside if dest.endswith("/") or len(sources) > 1 or (context / source).is_dir() \
                    else base
                copied = target / str(into).lstrip("/")
                copied.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(context / relative, copied, follow_symlinks=False)
