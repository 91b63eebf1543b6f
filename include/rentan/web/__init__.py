"""The coverage and review pages, as a FastAPI app the Airflow plugin mounts at ``/rentan``.

Behind Airflow's own authentication (the session cookie the UI sets, or a bearer token from
``/auth/token``), with the DAG's permissions:

- reading the ``rentan_nightly`` DAG (a viewer) is enough for the coverage page, its data and
  the quality reports: figures only, no personal data;
- editing it (a user or above) is needed for the review queue, where a reviewer sees the two
  records of a pair (NIKs, names, birth dates) and decides it, and for the branch packages,
  which hold the NIKs of the people to enrol.

The figures come from :mod:`rentan.overview`; a decision is recorded with
:func:`rentan.identity.decide`, as ``rentan review`` does. Charts are drawn in the browser by
plotly.js, served from the ``plotly`` package installed with the lock: nothing is loaded from
the internet.
"""


import contextlib
import datetime as dt
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo

DAG_ID = "rentan_nightly"
HERE = Path(__file__).parent
UI_TIMEZONE_ENV = "RENTAN_UI_TIMEZONE"
# what the pages read, for a data root on object storage (a read-only checkout)
READS = ("warehouse/_marts", "warehouse/quarantine", "warehouse/silver/review_queue", "exports/bpjs", "reports")

EXTERNAL_VIEWS = [
    {"name": "Coverage", "href": "rentan/coverage", "url_route": "rentan-coverage", "destination": "nav",
     "category": "browse", "icon": "rentan/static/coverage.svg"},
    {"name": "Review queue", "href": "rentan/review", "url_route": "rentan-review", "destination": "nav",
     "category": "browse", "icon": "rentan/static/review.svg"},
]


def ui_timezone() -> str:
    """The timezone the pages show times in (and offer Airflow's UI as its default): WIB."""
    return os.environ.get(UI_TIMEZONE_ENV) or "Asia/Jakarta"


@contextlib.contextmanager
def _paths() -> Iterator:
    from rentan.core.settings import data_paths
    from rentan.core.storage import remote_url, workspace

    if remote_url(None) is None:
        yield data_paths()
    else:
        with workspace(READS, push=()) as paths:
            yield paths


def _number(v, digits: int = 0) -> str:
    if v is None:
        return "n/a"
    if isinstance(v, float) or digits:
        return f"{v:,.{digits}f}"
    return f"{v:,}"


def _rupiah(v) -> str:
    if v is None:
        return "n/a"
    return ("-" if v < 0 else "") + f"Rp{abs(v):,.0f}".replace(",", ".")


def _local_time(iso: str | None) -> str:
    if not iso:
        return ""
    t = dt.datetime.fromisoformat(iso)
    t = t if t.tzinfo else t.replace(tzinfo=dt.UTC)
    tz = ZoneInfo(ui_timezone())
    return t.astimezone(tz).strftime("%Y-%m-%d %H:%M ") + (t.astimezone(tz).tzname() or "")


def _nikdiff(nik, other):
    """A NIK with the digits that differ from the other record's marked."""
    import markupsafe

    nik, other = nik or "", other or ""
    return markupsafe.Markup("").join(
        markupsafe.Markup('<span class="diff">{}</span>').format(c) if i >= len(other) or other[i] != c else c
        for i, c in enumerate(nik))


def _templates():
    import jinja2

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(HERE / "templates"),
                             autoescape=jinja2.select_autoescape(["html"]), trim_blocks=True, lstrip_blocks=True)
    env.filters.update(number=_number, rupiah=_rupiah, local_time=_local_time, nikdiff=_nikdiff)
    return env


def create_app():
    """The FastAPI app of the pages, with Airflow's authentication and authorisation."""
    from airflow.api_fastapi.core_api.security import requires_access_dag
    from fastapi import Depends, FastAPI

    viewer = [Depends(requires_access_dag("GET", param_dag_id=DAG_ID))]
    editor = [Depends(requires_access_dag("PUT", param_dag_id=DAG_ID))]
    page = _pages(_templates())
    app = FastAPI(title="rentan pages", description="Coverage per regency and the review queue of rentan_nightly")
    _add_error_pages(app, page)
    _add_coverage_routes(app, page, viewer, editor)
    _add_review_routes(app, page, editor)
    _add_static_routes(app)
    return app


def _pages(templates):
    """A page of the templates, never cached."""
    from fastapi import Request
    from fastapi.responses import HTMLResponse

    def page(name: str, request: Request, status_code: int = 200, **context) -> HTMLResponse:
        html = templates.get_template(name).render(timezone=ui_timezone(), **context)
        return HTMLResponse(html, status_code=status_code, headers={"Cache-Control": "no-store"})

    return page


def _add_error_pages(app, page):
    from airflow.api_fastapi.app import get_auth_manager
    from fastapi import Request
    from fastapi.responses import JSONResponse, RedirectResponse
    from starlette.exceptions import HTTPException as StarletteHTTPException

    @app.exception_handler(StarletteHTTPException)
    async def signed_out(request: Request, exc: StarletteHTTPException):
        wants_page = request.method == "GET" and "text/html" in request.headers.get("accept", "")
        if wants_page and exc.status_code == 401:
            # to the login page, and back here after it
            return RedirectResponse(get_auth_manager().get_url_login(next_url=str(request.url)), status_code=303)
        if wants_page and exc.status_code in (403, 404):
            return page("message.html", request, status_code=exc.status_code, status=exc.status_code,
                        detail=exc.detail)
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code)


def _add_coverage_routes(app, page, viewer, editor):
    """The coverage page, its data, the quality reports and the branch packages it links to."""
    from airflow.api_fastapi.core_api.security import GetUserDep
    from fastapi import HTTPException, Request
    from fastapi.responses import FileResponse, HTMLResponse, Response

    from rentan import overview

    @app.get("/coverage", response_class=HTMLResponse, dependencies=viewer)
    def coverage_page(request: Request, user: GetUserDep, snapshot: str | None = None):
        with _paths() as paths:
            try:
                data = overview.coverage(paths, snapshot)
            except overview.NotPublished as e:
                return page("message.html", request, status_code=404, status=404, detail=str(e))
            queue = _safe_queue(paths)
        return page("coverage.html", request, d=data, user=user.get_name(), queue=queue)

    @app.get("/api/coverage", dependencies=viewer)
    def coverage_data(snapshot: str | None = None) -> dict:
        with _paths() as paths:
            try:
                return overview.coverage(paths, snapshot)
            except overview.NotPublished as e:
                raise HTTPException(404, str(e)) from None

    @app.get("/quality/{name}", dependencies=viewer)
    def quality(name: str):
        with _paths() as paths:
            folder = paths.quality_reports
            target = folder / name
            if not (name.startswith("quality_") and name.endswith(".html")) or target.parent != folder \
                    or not target.exists():
                raise HTTPException(404, f"no quality report {name}")
            return HTMLResponse(target.read_text(encoding="utf-8"))

    @app.get("/packages/{branch}/{snapshot}/{name}", dependencies=editor)
    def package(branch: str, snapshot: str, name: str):
        with _paths() as paths:
            try:
                f = overview.package_file(paths, branch, snapshot, name)
            except FileNotFoundError as e:
                raise HTTPException(404, str(e)) from None
            # read now: a checkout on object storage goes away when the request ends
            if paths.remote is None:
                return FileResponse(f, filename=name)
            return Response(f.read_bytes(), media_type="application/octet-stream",
                            headers={"Content-Disposition": f'attachment; filename="{name}"'})


def _add_review_routes(app, page, editor):
    """The review queue, its data, and a reviewer's decision on a pair."""
    from airflow.api_fastapi.core_api.security import GetUserDep
    from fastapi import Form, HTTPException, Request
    from fastapi.responses import HTMLResponse, RedirectResponse

    from rentan import overview

    @app.get("/review", response_class=HTMLResponse, dependencies=editor)
    def review_page(request: Request, user: GetUserDep, done: str | None = None):
        with _paths() as paths:
            queue = overview.review_queue(paths)
        return page("review.html", request, q=queue, user=user.get_name(), done=done)

    @app.get("/api/review", dependencies=editor)
    def review_data() -> dict:
        with _paths() as paths:
            return overview.review_queue(paths)

    @app.post("/review/{pair_id}", dependencies=editor)
    def review_decide(pair_id: str, user: GetUserDep, verdict: Annotated[str, Form()],
                      note: Annotated[str | None, Form()] = None):
        from rentan.identity import decide

        if verdict not in ("same", "different"):
            raise HTTPException(422, "verdict must be 'same' or 'different'")
        with _paths() as paths:
            pairs = {p["pair_id"] for p in overview.review_queue(paths)["pairs"]}
            if pair_id not in pairs:
                raise HTTPException(404, f"pair {pair_id} is not in the review queue")
            decide(paths, pair_id, verdict == "same", by=user.get_name(), note=note or None)
        return RedirectResponse(f"../review?done={pair_id}", status_code=303)


def _add_static_routes(app):
    from fastapi import HTTPException
    from fastapi.responses import FileResponse

    # plotly.js first: the catch-all below would otherwise answer for it
    @app.get("/static/plotly.min.js")
    def plotly_js():
        return FileResponse(_plotly_js(), media_type="text/javascript",
                            headers={"Cache-Control": "public, max-age=86400"})

    @app.get("/static/{name}")
    def static(name: str):
        f = HERE / "static" / name
        if f.parent != HERE / "static" or not f.is_file():
            raise HTTPException(404, "not found")
        return FileResponse(f)


def _safe_queue(paths) -> int | None:
    """Pairs waiting for a reviewer (None if that cannot be read here)."""
    from rentan import overview

    try:
        return overview.review_queue(paths)["pending"]
    except Exception:  # noqa: BLE001 - the count is a hint on the coverage page, never its failure
        return None


def _plotly_js() -> Path:
    """plotly.js as the plotly package ships it (installed with the lock)."""
    import importlib.util

    spec = importlib.util.find_spec("plotly")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the plotly package is not installed: run make install")
    return Path(next(iter(spec.submodule_search_locations))) / "package_data" / "plotly.min.js"
