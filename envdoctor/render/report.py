"""The whole `check` report: findings, then advice, then the facts they rest on."""

from __future__ import annotations

from rich.console import Console
from rich.text import Text

from envdoctor.diagnose.report import Diagnosis
from envdoctor.facts import Facts
from envdoctor.render.facts_text import origin_line, render_facts
from envdoctor.render.findings_text import render_advice, render_findings


def render_report(console: Console, facts: Facts, diagnosis: Diagnosis) -> None:
    console.print(Text(origin_line(facts), style="bold"), soft_wrap=True)
    console.print()
    render_findings(console, diagnosis.findings, diagnosis.valid_as_of)
    if diagnosis.not_checked:
        console.print()
        console.print(Text("Not checked", style="bold"))
        for note in diagnosis.not_checked:
            console.print(Text(f"  {note}", style="dim"))
    for question, advice in diagnosis.advice:
        console.print()
        render_advice(console, question, advice)
    console.print()
    render_facts(console, facts, diagnosis.gpus)
