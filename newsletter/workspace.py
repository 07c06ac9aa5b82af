"""A workspace: newsletter.toml, templates/, issues/, subscribers/. Loads and renders issues."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from newsletter.config import Config, find_root, load_config
from newsletter.content import Issue, load_issue
from newsletter.errors import NewsletterError, Problem, ValidationError, shown_path
from newsletter.places import ISSUE_FILE, Places
from newsletter.render import RenderedIssue, Templates, render_issue, render_mjml


@dataclass(frozen=True)
class Workspace:
    root: Path
    config: Config
    templates: Templates

    @classmethod
    def find(cls, start: Path | None = None) -> Workspace:
        """The workspace holding ``start`` (a folder or file), else the current directory's."""
        start = (start or Path.cwd()).resolve()
        root = find_root(start if start.is_dir() else start.parent)
        config = load_config(root)
        return cls(root, config, Templates.for_workspace(root))

    @property
    def issues_dir(self) -> Path:
        return Places(self.root).issues

    def issue_folders(self) -> list[Path]:
        """Every issue folder under issues/, sorted by name."""
        if not self.issues_dir.is_dir():
            return []
        return sorted(p for p in self.issues_dir.iterdir() if (p / ISSUE_FILE).is_file())

    def load(self, folder: Path) -> Issue:
        return load_issue(folder, default_language=self.config.newsletter.language,
                          shown=shown_path(folder), limits=self.config.limits)

    def load_all(self, folders: Sequence[Path]) -> list[Issue]:
        """Load every issue, reporting the problems of all of them together."""
        issues: list[Issue] = []
        problems: list[Problem] = []
        for folder in folders:
            try:
                issues.append(self.load(folder))
            except ValidationError as exc:
                problems.extend(exc.problems)
        if problems:
            raise ValidationError(problems)
        slugs = [issue.slug for issue in issues]
        if len(set(slugs)) != len(slugs):
            raise NewsletterError(f"the same issue was named twice: {', '.join(slugs)}")
        return issues

    def render(self, issue: Issue, *, asset_base: str | None = None) -> RenderedIssue:
        return render_issue(issue, self.config, self.templates, asset_base=asset_base)

    def mjml_source(self, issue: Issue, *, mode: str = "email") -> str:
        """The MJML the email (or web version) of ``issue`` is compiled from, e.g. to compare
        with another MJML compiler."""
        return render_mjml(issue, self.config, self.templates, mode=mode)

