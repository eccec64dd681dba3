"""Findings and install advice as a terminal report."""

from __future__ import annotations

from rich.console import Console
from rich.text import Text

from envdoctor.diagnose.advice import Advice
from envdoctor.diagnose.findings import Finding, Severity

FINDINGS_OK = "The environment is healthy: no finding fired."
_STYLE = {Severity.ERROR: "bold red", Severity.WARNING: "bold yellow", Severity.INFO: "bold blue"}


def finding_text(finding: Finding) -> Text:
    text = Text()
    text.append(f"{finding.severity.label:<7} ", style=_STYLE[finding.severity])
    text.append(finding.title, style="bold")
    text.append(f"  [{finding.id}]", style="dim")
    for name, value in finding.evidence:
        text.append(f"\n        {name}: ", style="cyan")
        text.append(value)
    if finding.fix:
        text.append(f"\n        fix: {finding.fix}", style="green")
    if finding.command:
        text.append(f"\n          {finding.command}", style="bold")
    return text


def render_findings(console: Console, findings: tuple[Finding, ...], valid_as_of: str) -> None:
    console.print(Text(f"Findings (knowledge base valid as of {valid_as_of})", style="bold"))
    if not findings:
        console.print(Text(f"ok      {FINDINGS_OK}", style="bold green"))
        return
    for finding in findings:
        console.print(finding_text(finding), soft_wrap=True)  # commands stay whole for copying


def render_advice(console: Console, title: str, advice: Advice) -> None:
    console.print(Text(title, style="bold"))
    plan = advice.plan
    if advice.not_planned:
        console.print(Text(f"  not planned: {advice.not_planned}", style="yellow"))
        return
    if plan is None:
        console.print(Text("No torch release in the knowledge base fits:", style="bold red"))
        for reason in advice.passed_over:
            console.print(Text(f"  {reason}", style="dim"))
        return
    line = Text(f"  torch {plan.torch}", style="bold")
    line.append(f"  {plan.variant}  ")
    line.append(f"index {plan.index_url}" if plan.index_url else "from PyPI", style="dim")
    console.print(line)
    for reason in plan.reasons:
        console.print(Text(f"  because {reason}"))
    console.print(Text(f"  pip: {plan.pip_command}", style="green"), soft_wrap=True)
    console.print(Text(f"  uv:  {plan.uv_command}", style="green"), soft_wrap=True)
