"""Silent episode generation for BabyAI levels.

MiniGrid's ``RoomGridLevel._gen_grid`` retries a level's generation until it
succeeds and ``print``s every rejected sample ("Sampling rejected: ...") on
stdout, which floods training logs. This module overrides that one method: the
same retry loop, but rejected samples go to ``logging`` at DEBUG level, and the
loop gives up with a clear error after a bounded number of attempts instead of
spinning forever.
"""

from __future__ import annotations

import logging
import types
from typing import Any

from minigrid.core.roomgrid import RoomGrid
from minigrid.envs.babyai.core.roomgrid_level import RejectSampling, RoomGridLevel

from glam_env.errors import LevelGenerationError

logger = logging.getLogger(__name__)

#: Generation attempts before a reset gives up (MiniGrid itself never gives up).
MAX_GENERATION_ATTEMPTS = 10_000


def quiet_gen_grid(env: RoomGridLevel, width: int, height: int) -> None:
    """Generate the grid and mission of ``env``, retrying rejected samples silently.

    ``env._prepare_generation()`` (if the level defines it) runs once per reset,
    before the first attempt, so that per-episode choices such as the Mixed
    levels' task family are not re-drawn (and so not biased) by rejections.
    """
    prepare = getattr(env, "_prepare_generation", None)
    if prepare is not None:
        prepare()
        width, height = env.width, env.height
    for attempt in range(1, MAX_GENERATION_ATTEMPTS + 1):
        try:
            RoomGrid._gen_grid(env, width, height)
            env.gen_mission()
            env.validate_instrs(env.instrs)
        except (RejectSampling, RecursionError) as error:
            logger.debug("%s: sample %d rejected: %s", type(env).__name__, attempt, error)
            continue
        break
    else:
        raise LevelGenerationError(
            f"{type(env).__name__} could not generate an episode in "
            f"{MAX_GENERATION_ATTEMPTS} attempts"
        )
    env.surface = env.instrs.surface(env)
    env.mission = env.surface


class QuietRoomGridLevel(RoomGridLevel):
    """``RoomGridLevel`` whose generation never prints (base class of this package's levels)."""

    def _gen_grid(self, width: int, height: int) -> None:
        quiet_gen_grid(self, width, height)


def silence_generation(env: Any) -> bool:
    """Make one MiniGrid environment instance generate its episodes silently.

    Only ``RoomGridLevel`` instances that keep MiniGrid's printing ``_gen_grid``
    are changed (the override is bound to this instance only, the class is left
    alone). Returns whether the instance was changed.
    """
    if not isinstance(env, RoomGridLevel) or isinstance(env, QuietRoomGridLevel):
        return False
    if type(env)._gen_grid is not RoomGridLevel._gen_grid:
        return False
    if isinstance(env.__dict__.get("_gen_grid"), types.MethodType):
        return False
    env._gen_grid = types.MethodType(quiet_gen_grid, env)
    return True
