"""`/v2/replicas`: the avatars this server can render, shaped as the hosted API's replica
objects (SPEC §5): list, get one, create from a photo, rename, delete, thumbnail.

Built-in characters are `system` replicas; portraits found in the data directory are
`user` replicas. `POST` makes one from an uploaded photo or video (multipart `file`),
`train_image_url` or `train_video_url` in the background (`server/replica_training.py`,
videos in a worker process: `server/replica_video.py`): `status` `started`
with `training_progress`, then `completed` or `error` with `error_message`. Names given
with `PATCH …/name` or at creation are kept in the store (the one source of truth across
restarts and nodes) and handed to this node's catalog so that calls show them at once.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, Query, Request
from fastapi.responses import FileResponse
from pydantic import ValidationError

from openreplica.plugins.avatar.catalog import AvatarInfo
from openreplica.server.deps import Services, iso, page_limit, require_api_key, services
from openreplica.server.errors import (
    ERROR_RESPONSES,
    ApiError,
    bad_request,
    describe_validation_error,
    not_found,
)
from openreplica.server.replica_fetch import fetch_image, fetch_video
from openreplica.server.replica_jobs import StoredJobs
from openreplica.server.replica_training import (
    REPLICA_WEBHOOK_EVENT,
    ReplicaJob,
    ReplicaTrainer,
)
from openreplica.server.replica_video import MAX_VIDEO_BYTES, VideoTrainer, looks_like_video
from openreplica.server.request_body import GuardedRoute, read_body
from openreplica.server.schemas import ReplicaCreate, ReplicaList, ReplicaOut, ReplicaRename

__all__ = ["router"]

router = APIRouter(
    prefix="/v2/replicas",
    tags=["replicas"],
    dependencies=[Depends(require_api_key)],
    responses=ERROR_RESPONSES,
    route_class=GuardedRoute,
)

ReplicaType = Literal["system", "user"]


def _type(info: AvatarInfo) -> ReplicaType:
    return "system" if info.kind == "character" else "user"


#: the largest photo upload or download accepted
MAX_PHOTO_BYTES = 10 * 1024 * 1024


def trainer(request: Request) -> ReplicaTrainer:
    """This app's replica trainer (made on first use)."""
    state = request.app.state
    found = getattr(state, "replica_trainer", None)
    if found is None:
        s: Services = state.services
        webhooks = getattr(state, "webhooks", None)

        def notify(replica_id: str, url: str, props: dict[str, object]) -> None:
            if webhooks is not None:
                webhooks.send(replica_id, url, REPLICA_WEBHOOK_EVENT, props)

        async def save_name(replica_id: str, name: str) -> None:
            await s.store.set_replica_name(replica_id, name, s.clock.now())
            s.catalog.rename(replica_id, name)

        video = VideoTrainer(s.settings.face_models_path)
        node_id = s.settings.this_node_id if s.settings.clustered else None
        found = state.replica_trainer = ReplicaTrainer(
            s.catalog,
            s.settings.data_dir / "replicas",
            s.clock,
            notify,
            save_name,
            video,
            jobs=StoredJobs(s.store, node_id),
        )
    return found


def job_out(job: ReplicaJob, request: Request) -> dict[str, Any]:
    out: dict[str, Any] = {
        "replica_id": job.replica_id,
        "face_id": job.replica_id,  # the hosted API's new name (SPEC §5)
        "replica_name": job.name,
        "replica_type": "user",
        "status": job.status,
        "training_progress": f"{job.progress}/100",
        "created_at": iso(job.created_at),
        "updated_at": iso(job.updated_at),
        "kind": job.kind,
    }
    if job.error_message is not None:
        out["error_message"] = job.error_message
    return out


def _thumbnail_url(request: Request, info: AvatarInfo) -> str | None:
    t = trainer(request)
    if info.kind == "character" or not t.thumbnail_path(info.replica_id).is_file():
        return None
    return str(request.url_for("replica_thumbnail", replica_id=info.replica_id))


def replica_out(
    info: AvatarInfo, renamed: tuple[str, float] | None, request: Request | None = None
) -> dict[str, Any]:
    created = info.created_at
    updated = max(created or 0.0, renamed[1]) if renamed is not None else created
    thumbnail = _thumbnail_url(request, info) if request is not None else None
    return {
        "replica_id": info.replica_id,
        "face_id": info.replica_id,  # the hosted API's new name (SPEC §5)
        "replica_name": renamed[0] if renamed is not None else info.name,
        "replica_type": _type(info),
        "status": "completed",
        "training_progress": "100/100",
        "created_at": iso(created) if created is not None else None,
        "updated_at": iso(updated) if updated is not None else None,
        "kind": info.kind,
        "thumbnail_url": thumbnail,
    }


def _find(s: Services, replica_id: str) -> AvatarInfo:
    for info in s.catalog.list():
        if info.replica_id == replica_id:
            return info
    raise not_found(f"replica {replica_id!r} not found")


@router.get(
    "", response_model=ReplicaList, response_model_exclude_none=True, summary="List replicas"
)
async def list_replicas(
    request: Request,
    s: Annotated[Services, Depends(services)],
    limit: Annotated[int, Query(ge=1, description="clamped to 100")] = 100,
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
    replica_type: Annotated[ReplicaType | None, Query()] = None,
    replica_ids: Annotated[str | None, Query(description="comma-separated ids")] = None,
    verbose: Annotated[bool, Query(description="accepted; every field is always sent")] = False,
) -> dict[str, Any]:
    infos: list[AvatarInfo | ReplicaJob] = [*s.catalog.list()]
    infos += [j for j in await trainer(request).unfinished() if j.replica_id not in s.catalog]
    if replica_type is not None:
        infos = [i for i in infos if isinstance(i, ReplicaJob) or _type(i) == replica_type]
        infos = [i for i in infos if replica_type == "user" or not isinstance(i, ReplicaJob)]
    if replica_ids is not None:
        wanted = {rid.strip() for rid in replica_ids.split(",") if rid.strip()}
        infos = [i for i in infos if i.replica_id in wanted]
    limit = page_limit(limit)
    names = await s.store.replica_names()
    window = infos[(page - 1) * limit : page * limit]
    return {
        "data": [
            job_out(i, request)
            if isinstance(i, ReplicaJob)
            else replica_out(i, names.get(i.replica_id), request)
            for i in window
        ],
        "total_count": len(infos),
    }


@router.get(
    "/{replica_id}",
    response_model=ReplicaOut,
    response_model_exclude_none=True,
    summary="Get a replica",
)
async def get_replica(
    replica_id: str,
    request: Request,
    s: Annotated[Services, Depends(services)],
    verbose: Annotated[bool, Query(description="accepted; every field is always sent")] = False,
) -> dict[str, Any]:
    job = await trainer(request).job(replica_id)
    if job is not None and replica_id not in s.catalog:
        return job_out(job, request)
    info = _find(s, replica_id)
    return replica_out(info, (await s.store.replica_names()).get(replica_id), request)


@router.post(
    "",
    response_model=ReplicaOut,
    response_model_exclude_none=True,
    summary="Make a replica from a photo or a video",
    description="JSON with `train_image_url` or `train_video_url`, or a multipart upload "
    "with the photo or video as `file`; all take `replica_name` and `callback_url`. A "
    "video: 2 s to 2 min (30 s or more recommended) of one person talking, with sound, "
    f"at most {MAX_VIDEO_BYTES // 2**20} MiB. Training runs in the background: poll "
    "`GET /v2/replicas/{id}` or wait for the webhook.",
)
async def create_replica(
    request: Request, s: Annotated[Services, Depends(services)]
) -> dict[str, Any]:
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > MAX_VIDEO_BYTES + 65536:
        raise ApiError(413, {"error": f"the upload is over {MAX_VIDEO_BYTES // 2**20} MiB"})
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    upload: bytes | None = None
    upload_is_video = False
    if kind == "multipart/form-data":
        form = await request.form(max_files=1, max_fields=8)
        fields = {k: v for k, v in form.items() if isinstance(v, str)}
        file = form.get("file")
        if file is None or isinstance(file, str):
            raise bad_request("`file`: the multipart upload needs the photo or video as `file`")
        upload = await file.read(MAX_VIDEO_BYTES + 1)
        upload_is_video = looks_like_video(
            file.content_type or "", file.filename or "", upload[:16]
        )
        limit, what = (MAX_VIDEO_BYTES, "video") if upload_is_video else (MAX_PHOTO_BYTES, "photo")
        if len(upload) > limit:
            raise ApiError(413, {"error": f"the {what} is over {limit // 2**20} MiB"})
    else:
        try:
            fields = json.loads(await read_body(request, s.settings.max_body_bytes) or b"{}")
        except ValueError as exc:
            raise bad_request(f"the body is not JSON: {exc}") from exc
        if not isinstance(fields, dict):
            raise bad_request("the body must be a JSON object")
    try:
        body = ReplicaCreate.model_validate(fields)
    except ValidationError as exc:
        errors = [{**e, "loc": ("body", *e["loc"])} for e in exc.errors()]
        raise bad_request(describe_validation_error(errors)) from exc
    if body.train_video_url is not None and body.train_image_url is not None:
        raise bad_request("send one of `train_image_url` and `train_video_url`, not both")
    if upload is None and body.train_image_url is None and body.train_video_url is None:
        raise bad_request(
            "send `train_image_url` or `train_video_url`, or upload the photo or video as "
            "multipart `file`"
        )
    name = body.replica_name or "Replica"
    allow = s.settings.replica_fetch_private
    if upload is not None:
        data = upload

        async def load() -> bytes:
            return data

        kind_made: Literal["portrait", "video"] = "video" if upload_is_video else "portrait"
    elif body.train_video_url is not None:
        video_url = body.train_video_url

        async def load() -> bytes:
            return await fetch_video(video_url, allow_private=allow, max_bytes=MAX_VIDEO_BYTES)

        kind_made = "video"
    else:
        url = body.train_image_url
        assert url is not None

        async def load() -> bytes:
            return await fetch_image(url, allow_private=allow, max_bytes=MAX_PHOTO_BYTES)

        kind_made = "portrait"
    job = await trainer(request).start(name, body.callback_url, load, kind_made)
    return job_out(job, request)


@router.delete("/{replica_id}", status_code=204, summary="Delete a replica")
async def delete_replica(
    replica_id: str, request: Request, s: Annotated[Services, Depends(services)]
) -> None:
    info = next((i for i in s.catalog.list() if i.replica_id == replica_id), None)
    if info is not None and _type(info) == "system":
        raise bad_request(f"`replica_id`: {replica_id!r} is a system replica; it cannot be deleted")
    if not await trainer(request).delete(replica_id):
        raise not_found(f"replica {replica_id!r} not found")


@router.get(
    "/{replica_id}/thumbnail",
    name="replica_thumbnail",
    summary="A user replica's thumbnail (JPEG)",
    response_class=FileResponse,
)
async def replica_thumbnail(replica_id: str, request: Request) -> FileResponse:
    path = trainer(request).thumbnail_path(replica_id)
    if not replica_id.startswith("r-") or "/" in replica_id or not path.is_file():
        raise not_found(f"no thumbnail for replica {replica_id!r}")
    return FileResponse(path, media_type="image/jpeg")


@router.patch(
    "/{replica_id}/name",
    response_model=ReplicaOut,
    response_model_exclude_none=True,
    summary="Rename a replica",
)
async def rename_replica(
    replica_id: str,
    request: Request,
    body: Annotated[ReplicaRename, Body()],
    s: Annotated[Services, Depends(services)],
) -> dict[str, Any]:
    info = _find(s, replica_id)
    if _type(info) == "system":
        raise bad_request(f"`replica_id`: {replica_id!r} is a system replica; its name is fixed")
    now = s.clock.now()
    await s.store.set_replica_name(replica_id, body.replica_name, now)
    s.catalog.rename(replica_id, body.replica_name)
    return replica_out(info, (body.replica_name, now), request)
