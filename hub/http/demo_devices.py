"""``/sim/devices``: the demo's virtual scale and printer (only with ``storehub serve --simulators``).

What the virtual printer printed (text and PNG) and two controls a presenter needs: the weight on the scale
and the paper. Without the simulators every route answers 404. The page itself is ``/simdevices/``.
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Request, Response, get, post
from litestar.params import FromPath, JSONBody

from hub.http.common import In
from schema.errors import NotFoundError


class ScaleIn(In, frozen=True):
    grams: Annotated[int, msgspec.Meta(ge=-5_000, le=30_000)]
    motion: bool = False


class PrinterIn(In, frozen=True):
    paper_out: bool = False
    cover_open: bool = False


def _demo(request: Request[Any, Any, Any]) -> Any:
    demo = getattr(request.app.state, "demo_devices", None)
    if demo is None:
        raise NotFoundError("the demo devices run only with `storehub serve --simulators`")
    return demo


@get("/sim/devices", include_in_schema=False, cache=False)
async def demo_state(request: Request[Any, Any, Any]) -> dict[str, Any]:
    state: dict[str, Any] = _demo(request).state()
    return state


@get("/sim/devices/printer/{job_id:int}/png", include_in_schema=False, media_type="image/png")
async def demo_job_png(request: Request[Any, Any, Any], job_id: FromPath[int]) -> Response[bytes]:
    job = _demo(request).job(job_id)
    if job is None:
        raise NotFoundError("no such printed job")
    return Response(job.png, media_type="image/png")


@post("/sim/devices/scale", include_in_schema=False, status_code=200)
async def demo_scale(request: Request[Any, Any, Any], data: JSONBody[ScaleIn]) -> dict[str, Any]:
    demo = _demo(request)
    demo.set_scale(data.grams, data.motion)
    return {"grams": data.grams, "motion": data.motion}


@post("/sim/devices/printer", include_in_schema=False, status_code=200)
async def demo_printer(request: Request[Any, Any, Any], data: JSONBody[PrinterIn]) -> dict[str, Any]:
    demo = _demo(request)
    demo.set_printer(data.paper_out, data.cover_open)
    return {"paper_out": data.paper_out, "cover_open": data.cover_open}


ROUTES = [demo_state, demo_job_png, demo_scale, demo_printer]
