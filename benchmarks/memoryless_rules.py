"""How far memoryless rules over BabyAI-Text's sentences get on a level (GoToLocal).

A yardstick for the LLM agent at ``history_length: 1``: it sees one observation and
has no memory, so a hand-written rule over the same sentences shows what such a
policy can reach, and which mistake costs what. Each rule reads the mission and the
"You see ..." sentences only (no grid):

- ``keyword``: glam's keyword baseline (``glam_apps.evaluation.agents.KeywordAgent``),
  the first matching sentence, forward while the target is ahead, else turn left;
- ``nearest``: the nearest matching object, and a turn toward the target's side
  when something stands one step ahead (the keyword rule walks into it forever);
- ``nearest+explore``: the same, and a random turn when blocked with the target
  straight ahead, random turns and steps when nothing matches.

    .venv/bin/python benchmarks/memoryless_rules.py --episodes 300

Prints one line per rule: success and mean episode length on the evaluation
episodes (seed 1000000 + i, the runs' evaluation seeds).
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

import glam_env
from glam_apps.evaluation.agents import KeywordAgent, RandomAgent
from glam_apps.evaluation.evaluate import run_episodes

ACTIONS = ("turn left", "turn right", "go forward", "pick up", "drop", "toggle")
_MISSION = re.compile(
    r"^go to (?:the|a) (?:(?P<color>red|green|blue|purple|yellow|grey) )?(?P<kind>ball|box|key)$"
)
_OBJECT = re.compile(
    r"You see an? (?P<color>\w+) (?P<kind>ball|box|key)"
    r"(?: (?P<side_steps>\d+) steps? (?P<side>left|right))?(?: and)?"
    r"(?: (?P<forward>\d+) steps? forward)?$"
)
_WALL = re.compile(r"You see a wall (?P<steps>\d+) steps? (?P<where>forward|left|right)$")


@dataclass(frozen=True)
class Sighting:
    color: str
    kind: str
    side: str | None
    side_steps: int
    forward: int


def sightings(observation: str) -> list[Sighting]:
    seen = []
    for sentence in observation.split(", "):
        wall = _WALL.match(sentence)
        if wall:
            forward = wall["where"] == "forward"
            side = None if forward else wall["where"]
            steps = int(wall["steps"])
            seen.append(
                Sighting("", "wall", side, 0 if forward else steps, steps if forward else 0)
            )
            continue
        thing = _OBJECT.match(sentence)
        if thing:
            seen.append(
                Sighting(
                    thing["color"],
                    thing["kind"],
                    thing["side"],
                    int(thing["side_steps"] or 0),
                    int(thing["forward"] or 0),
                )
            )
    return seen


def nearest_rule(mission: str, observation: str, rng: np.random.Generator, explore: bool) -> str:
    goal = _MISSION.match(mission)
    if goal is None:
        raise SystemExit(f"not a 'go to' mission: {mission!r} (this script reads GoTo levels)")
    seen = sightings(observation)
    blocked = any(s.side is None and s.forward == 1 for s in seen)
    targets = [s for s in seen if s.kind == goal["kind"] and goal["color"] in (None, s.color)]
    if not targets:
        if not explore:
            return "turn left"
        if blocked:
            return str(rng.choice(["turn left", "turn right"]))
        return str(rng.choice(["turn left", "go forward", "go forward"]))
    target = min(targets, key=lambda s: s.side_steps + s.forward)
    if target.side is None:
        if not blocked:
            return "go forward"
        return str(rng.choice(["turn left", "turn right"])) if explore else "go forward"
    if target.forward > 0 and not blocked:
        return "go forward"
    return "turn left" if target.side == "left" else "turn right"


class NearestRuleAgent(RandomAgent):
    """:func:`nearest_rule` as an evaluation agent (its random choices from ``self.rng``)."""

    def __init__(self, explore: bool, seed: int = 0) -> None:
        super().__init__(seed)
        self.name = "nearest+explore" if explore else "nearest"
        self.explore = explore

    def act(self, slots: Sequence[int], observations: Sequence[dict[str, Any]]) -> list[int]:
        return [
            ACTIONS.index(nearest_rule(o["mission"], o["observation"], self.rng, self.explore))
            for o in observations
        ]


def play(level: str, rule: str, episodes: int, max_steps: int) -> tuple[float, float]:
    """Success and mean length on the evaluation episodes, one at a time, in seed order."""
    config = glam_env.BabyAITextConfig(level=level, max_steps=max_steps, history_length=1)
    agent = KeywordAgent(seed=0) if rule == "keyword" else NearestRuleAgent(rule != "nearest")
    seeds = [1_000_000 + episode for episode in range(episodes)]
    outcomes = run_episodes(config, agent, seeds, num_envs=1)
    return (
        float(np.mean([o.success for o in outcomes])),
        float(np.mean([o.length for o in outcomes])),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--level", default="GoToLocal")
    parser.add_argument("--episodes", type=int, default=300)
    parser.add_argument("--max-steps", type=int, default=64)
    args = parser.parse_args()
    for rule in ("keyword", "nearest", "nearest+explore"):
        success, length = play(args.level, rule, args.episodes, args.max_steps)
        count = f"({args.episodes} episodes)"
        print(f"{rule:16s} success {success:.3f}  mean length {length:.1f}  {count}")


if __name__ == "__main__":
    main()
