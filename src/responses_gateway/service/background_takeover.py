"""What happens to a background job whose replica stopped renewing its lease (it died).

The decision: a job is **rerun from the start** only when nothing of its run was logged (its log
still ends with the two events written when it was queued, ``response.created`` and
``response.queued``) and its request is stored; a reader has then seen nothing that the rerun
would contradict. Otherwise it is **ended**: ``failed`` with an error that says the replica
stopped, the items it had finished and logged kept, and ``response.failed`` appended to its log,
right after the last event the dead replica logged, so a resumed stream stays gapless. Rerunning
a half-logged run would replay tool calls (side effects) and contradict events already read.
A job whose cancel was asked before the replica died ends ``cancelled`` instead.
"""

from __future__ import annotations

from responses_gateway.service.background_log import terminal
from responses_gateway.store.jobs import ExpiredJob, JobStore

OPENING = 1  # the sequence number of response.queued, the last event logged at queue time

REPLICA_STOPPED = (
    "The gateway replica that was running this background response stopped before it "
    "finished (its lease expired). The output items it had finished are kept; create the "
    "response again to retry."
)
HOLDER_STOPPED = (
    "The gateway replica that queued this background response stopped before running it; its "
    "MCP tools' URLs and credentials were held only by that replica. Create the response again."
)


async def take_over(jobs: JobStore, job: ExpiredJob) -> None:
    rerun = job.request is not None and job.emitted <= OPENING and not job.cancel_requested
    if rerun and await jobs.requeue(job.response_id, job.emitted):
        return
    if job.progress is None:
        return  # cannot happen: an active job always has its Response so far
    response = dict(job.progress)
    if job.cancel_requested:
        response |= {"status": "cancelled"}
    else:
        message = HOLDER_STOPPED if job.request is None and job.emitted <= OPENING else None
        error = {"code": "server_error", "message": message or REPLICA_STOPPED}
        response |= {"status": "failed", "error": error}
    await jobs.end("expired", response, [terminal(response, job.emitted + 1)])
