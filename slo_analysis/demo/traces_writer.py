"""X-Ray traces of the demo: GetTraceSummaries and BatchGetTraces pages for a sample of requests.

The sample is about 0.4 % of front-door requests (fewer at larger scales), every faulted request,
and the 50 slowest ticket creations. Segment documents are JSON strings built from the same simulated
rows as the logs and metrics, shaped as the X-Ray SDK for Java records them: the servlet filter's
segment holds the request handler's subsegment (``AgentMatcher.assign``, named as the Spring
interceptor names it), and the handler's subsegments hold the SQL, DynamoDB and HTTP calls it made.

Each ``batch-get-traces-NNNN.json.gz`` is what one ``aws xray batch-get-traces --trace-ids ...`` call
prints for at most :data:`BATCH_GET_TRACES_MAX_IDS` trace ids (the API's limit per call), taken in the
order of the GetTraceSummaries pages (:data:`SUMMARY_PAGE` summaries per page).

Examples
--------
>>> from slo_analysis.demo.traces_writer import QUERY_V231
>>> "agent_skills" in QUERY_V231
True
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from slo_analysis.demo.ids import hex_strings
from slo_analysis.demo.output import dumps, write_json
from slo_analysis.demo.story import ACCOUNT, REGION, TABLE, Story
from slo_analysis.demo.traffic import Simulation

__all__ = ["QUERY_V231", "QUERY_V240", "BATCH_GET_TRACES_MAX_IDS", "SUMMARY_PAGE", "sample_traces", "write_traces"]

logger = logging.getLogger(__name__)

QUERY_V231 = (
    "SELECT agent_id, skill, current_load FROM agent_skills WHERE queue_id = ? AND skill = ANY(?) "
    "ORDER BY current_load LIMIT ?"
)
QUERY_V240 = (
    "SELECT agent_id, skill, current_load FROM agent_skills WHERE queue_id = ? AND (skill = ANY(?) "
    "OR lower(language) LIKE ?) ORDER BY current_load LIMIT ?"
)
#: trace ids one BatchGetTraces call takes (sources.xray_fetch sends the same number per call)
BATCH_GET_TRACES_MAX_IDS = 5
#: trace summaries per GetTraceSummaries page
SUMMARY_PAGE = 100
#: the method that handles each operation: (class, method). The X-Ray Spring interceptor names its
#: subsegment ``<simple class name>.<method>`` and records the class as ``ClassInfo`` metadata.
_HANDLERS = {
    "CreateTicket": ("com.supportdesk.tickets.TicketController", "createTicket"),
    "GetTicket": ("com.supportdesk.tickets.TicketController", "getTicket"),
    "ReplyToTicket": ("com.supportdesk.tickets.ReplyController", "replyToTicket"),
    "SearchArticles": ("com.supportdesk.kb.SearchController", "searchArticles"),
    "AssignAgent": ("com.supportdesk.routing.AgentMatcher", "assign"),
}
_SDK = {"sdk": "X-Ray for Java", "sdk_version": "2.18.1"}
_PATHS = {
    "POST /tickets": "/tickets",
    "GET /tickets/{id}": "/tickets/{}",
    "POST /tickets/{id}/replies": "/tickets/{}/replies",
    "GET /kb/search": "/kb/search?q=reset+password",
}


def sample_traces(sim: Simulation, scale: float, rng: np.random.Generator) -> pl.DataFrame:
    """The front-door request ids (``rid``) that have a trace."""
    fd = sim.requests.filter(pl.col("service") == "support-web")
    pick = rng.random(fd.height) < 0.004 / max(scale, 1.0)
    slowest = fd.filter(pl.col("route") == "POST /tickets").sort(["latency_ms", "rid"], descending=True).head(50)
    keep = fd.filter(pl.Series(pick) | pl.col("fault")).select("rid")
    return pl.concat([keep, slowest.select("rid")]).unique().sort("rid")


def _t(ms: float) -> float:
    return round(ms / 1000.0, 4)


def _flags(status: int) -> dict[str, bool]:
    if status >= 500:
        return {"fault": True}
    if status >= 400:
        return {"error": True}
    return {}


def _ddb(sid: str, op: str, start: float, dur: float, throttled: bool, req_id: str) -> dict[str, Any]:
    d: dict[str, Any] = {
        "id": sid,
        "name": "DynamoDB",
        "namespace": "aws",
        "start_time": _t(start),
        "end_time": _t(start + dur),
        "http": {"response": {"status": 200}},
        "aws": {
            "table_name": TABLE,
            "operation": op,
            "region": REGION,
            "request_id": req_id,
            "retries": 1 if throttled else 0,
            "resource_names": [TABLE],
        },
    }
    if throttled:
        d["throttle"] = True
    return d


def _handler_name(operation: str) -> str:
    cls, method = _HANDLERS[operation]
    return f"{cls.rsplit('.', 1)[1]}.{method}"


def _handler(sid: str, row: dict[str, Any], calls: list[dict[str, Any]]) -> dict[str, Any]:
    """The request handler's subsegment of ``row``'s segment, enclosing ``calls`` (its subsegments).

    It opens just after the segment and closes just before it, widened to cover every call, and never
    outside the segment: a call is then inside its handler and self-times still add up to the trace.
    """
    start, end = row["ts_ms"], row["ts_ms"] + row["latency_ms"]
    gap = min(0.5, row["latency_ms"] * 0.05)  # filter and framework work around the handler
    lo = min([start + gap, *(c["start_time"] * 1000.0 for c in calls)])
    hi = max([end - gap, *(c["end_time"] * 1000.0 for c in calls)])
    cls, _ = _HANDLERS[row["operation"]]
    doc: dict[str, Any] = {
        "id": sid,
        "name": _handler_name(row["operation"]),
        "start_time": _t(max(lo, start)),
        "end_time": _t(min(hi, end)),
        "metadata": {"ClassInfo": {"Class": cls}},
        "subsegments": calls,
    }
    if row["status"] >= 500:  # the exception that became the 5xx passed through the handler
        doc["fault"] = True
    return doc


def _documents(rows: dict[str, dict[str, Any]], ids: list[str]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    sw = rows["support-web"]
    tid = sw["trace_id"]
    it = iter(ids)
    docs: list[dict[str, Any]] = []
    ds = rows.get("ticket-api") or rows["kb-search"]
    path = _PATHS[sw["route"]].format(sw["ticket_id"] or "T-" + sw["request_id"][:6])
    method = sw["route"].split()[0]
    sw_id, call_id = next(it), next(it)
    sw_doc: dict[str, Any] = {
        "id": sw_id,
        "name": "support-web",
        "trace_id": tid,
        "start_time": _t(sw["ts_ms"]),
        "end_time": _t(sw["ts_ms"] + sw["latency_ms"]),
        "origin": "AWS::ECS::Container",
        "http": {
            "request": {
                "method": method,
                "url": f"https://support.example.com{path}",
                "client_ip": f"203.0.113.{sw['rid'] % 250 + 1}",
                "user_agent": "Mozilla/5.0",
            },
            "response": {"status": sw["status"]},
        },
        "aws": {"ecs": {"container": "support-web", "container_id": sw["task_id"]}, "xray": _SDK},
        "annotations": {"customer_tier": sw["tier"], "version": sw["version"]},
        **_flags(sw["status"]),
        "subsegments": [
            {
                "id": call_id,
                "name": ds["service"],
                "namespace": "remote",
                "start_time": _t(ds["ts_ms"] - 1),
                "end_time": _t(ds["ts_ms"] + ds["latency_ms"] + 1),
                "http": {
                    "request": {"method": method, "url": f"http://{ds['service']}.prod.local:8080{path}"},
                    "response": {"status": ds["status"]},
                },
                **_flags(ds["status"]),
            }
        ],
    }
    docs.append(sw_doc)
    ds_doc: dict[str, Any] = {
        "id": next(it),
        "name": ds["service"],
        "trace_id": tid,
        "parent_id": call_id,
        "start_time": _t(ds["ts_ms"]),
        "end_time": _t(ds["ts_ms"] + ds["latency_ms"]),
        "origin": "AWS::ECS::Container",
        "http": {
            "request": {"method": method, "url": f"http://{ds['service']}.prod.local:8080{path}"},
            "response": {"status": ds["status"]},
        },
        "aws": {"ecs": {"container": ds["service"], "container_id": ds["task_id"]}, "xray": _SDK},
        "annotations": {"operation": ds["operation"], "version": ds["version"]},
        **_flags(ds["status"]),
    }
    ds_handler_id = next(it)
    ds_calls: list[dict[str, Any]] = []
    if ds["ticket_id"] and ds["operation"] == "CreateTicket":
        ds_doc["annotations"]["ticket_id"] = ds["ticket_id"]
    rt = rows.get("routing-service")
    if ds["service"] == "kb-search":
        ds_calls.append(
            {
                "id": next(it),
                "name": "kb-opensearch",
                "namespace": "remote",
                "start_time": _t(ds["ts_ms"] + 3),
                "end_time": _t(ds["ts_ms"] + ds["latency_ms"] * 0.8),
                "http": {
                    "request": {"method": "POST", "url": "https://kb-opensearch.prod.local/articles/_search"},
                    "response": {"status": 200},
                },
            }
        )
    elif ds["ddb_ms"] is not None:
        if rt is not None:
            start = rt["ts_ms"] - 1 - ds["ddb_ms"]
        else:
            start = ds["ts_ms"] + (ds["latency_ms"] - ds["ddb_ms"]) * 0.7
        ds_calls.append(
            _ddb(
                next(it),
                ds["ddb_op"],
                start,
                ds["ddb_ms"],
                ds["throttled"],
                ds["request_id"].replace("-", "").upper()[:32],
            )
        )
    root_cause = None
    if rt is not None:
        rcall = next(it)
        ds_calls.append(
            {
                "id": rcall,
                "name": "routing-service",
                "namespace": "remote",
                "start_time": _t(rt["ts_ms"] - 1),
                "end_time": _t(rt["ts_ms"] + rt["latency_ms"] + 1),
                "http": {
                    "request": {"method": "POST", "url": "http://routing-service.prod.local:8080/assignments"},
                    "response": {"status": rt["status"]},
                },
                **_flags(rt["status"]),
            }
        )
        own = max(rt["latency_ms"] - rt["sql_ms"] - (rt["ddb_ms"] or 0.0), 1.0)
        q0 = rt["ts_ms"] + own * 0.5
        sql: dict[str, Any] = {
            "id": next(it),
            "name": "agent_skills@aurora-prod",
            "namespace": "remote",
            "start_time": _t(q0),
            "end_time": _t(q0 + rt["sql_ms"]),
            "sql": {
                "url": "jdbc:postgresql://aurora-prod.cluster-c9x2.eu-west-1.rds.amazonaws.com:5432/routing",
                "database_type": "PostgreSQL",
                "database_version": "15.4",
                "driver_version": "42.7.3",
                "user": "routing_app",
                "preparation": "statement",
                "sanitized_query": QUERY_V240 if rt["version"] == "2.4.0" else QUERY_V231,
            },
        }
        rt_doc: dict[str, Any] = {
            "id": next(it),
            "name": "routing-service",
            "trace_id": tid,
            "parent_id": rcall,
            "start_time": _t(rt["ts_ms"]),
            "end_time": _t(rt["ts_ms"] + rt["latency_ms"]),
            "origin": "AWS::ECS::Container",
            "http": {
                "request": {"method": "POST", "url": "http://routing-service.prod.local:8080/assignments"},
                "response": {"status": rt["status"]},
            },
            "aws": {"ecs": {"container": "routing-service", "container_id": rt["task_id"]}, "xray": _SDK},
            "annotations": {"operation": "AssignAgent", "version": rt["version"], "ticket_id": rt["ticket_id"]},
            **_flags(rt["status"]),
        }
        rt_handler_id = next(it)
        rt_calls = [sql]
        rt_handler_cause: dict[str, Any] | None = None
        if rt["timeout"]:
            msg = f"Timeout after 3000 ms querying agent_skills for ticket {rt['ticket_id']}"
            psql_id = next(it)
            sql["fault"] = True
            sql["cause"] = {
                "working_directory": "/app",
                "exceptions": [
                    {
                        "id": psql_id,
                        "type": "org.postgresql.util.PSQLException",
                        "message": msg,
                        "remote": True,
                        "stack": [
                            {
                                "path": "AgentSkillsRepository.java",
                                "line": 88,
                                "label": "com.supportdesk.routing.AgentSkillsRepository.findCandidates",
                            },
                            {
                                "path": "AgentMatcher.java",
                                "line": 142,
                                "label": "com.supportdesk.routing.AgentMatcher.assign",
                            },
                        ],
                    }
                ],
            }
            timeout_exc = {"id": next(it), "type": "AgentAssignmentTimeout", "message": msg}
            rt_doc["cause"] = {"exceptions": [timeout_exc]}
            # the handler threw it, caused by the driver's exception recorded on the SQL subsegment
            rt_handler_cause = {"working_directory": "/app", "exceptions": [{**timeout_exc, "cause": psql_id}]}
            root_cause = _routing_root_cause(
                {"Exceptions": [], "Remote": False},
                {"Exceptions": [{"Name": "AgentAssignmentTimeout", "Message": msg}], "Remote": False},
                {"Remote": True, "Exceptions": [{"Name": "PSQLException", "Message": msg}]},
            )
        else:
            rt_calls.append(
                _ddb(
                    next(it),
                    "UpdateItem",
                    q0 + rt["sql_ms"] + 1,
                    rt["ddb_ms"],
                    False,
                    rt["request_id"].replace("-", "").upper()[:32],
                )
            )
        rt_handler = _handler(rt_handler_id, rt, rt_calls)
        if rt_handler_cause is not None:
            rt_handler["cause"] = rt_handler_cause
        rt_doc["subsegments"] = [rt_handler]
        docs.append(rt_doc)
    ds_doc["subsegments"] = [_handler(ds_handler_id, ds, ds_calls)]
    docs.insert(1, ds_doc)
    services = [d["name"] for d in docs]
    summary: dict[str, Any] = {
        "Id": tid,
        "StartTime": _t(sw["ts_ms"]),
        "Duration": _t(sw["latency_ms"]),
        "ResponseTime": _t(sw["latency_ms"]),
        "HasFault": sw["status"] >= 500,
        "HasError": 400 <= sw["status"] < 500,
        "HasThrottle": bool(ds.get("throttled")),
        "IsPartial": False,
        "Http": {
            "HttpURL": f"https://support.example.com{path}",
            "HttpStatus": sw["status"],
            "HttpMethod": method,
            "UserAgent": "Mozilla/5.0",
            "ClientIp": sw_doc["http"]["request"]["client_ip"],
        },
        "Annotations": {k: [{"AnnotationValue": {"StringValue": v}}] for k, v in sw_doc["annotations"].items()},
        "Users": [],
        "ServiceIds": [{"Name": s, "Names": [s], "AccountId": ACCOUNT, "Type": "AWS::ECS::Container"} for s in services]
        + (
            [{"Name": TABLE, "Names": [TABLE], "AccountId": ACCOUNT, "Type": "AWS::DynamoDB::Table"}]
            if ds["service"] != "kb-search"
            else []
        ),
        "EntryPoint": {
            "Name": "support-web",
            "Names": ["support-web"],
            "AccountId": ACCOUNT,
            "Type": "AWS::ECS::Container",
        },
        "FaultRootCauses": [root_cause] if root_cause else [],
        "ErrorRootCauses": [],
        "ResponseTimeRootCauses": [],
        "Revision": 1,
    }
    if rt is not None and rt["sql_ms"] > 1000 and not root_cause:
        summary["ResponseTimeRootCauses"] = [
            _routing_root_cause(
                {"Coverage": round(rt["latency_ms"] / sw["latency_ms"], 3), "Remote": False},
                {"Coverage": round(_handler_ms(rt_doc) / sw["latency_ms"], 3), "Remote": False},
                {"Coverage": round(rt["sql_ms"] / sw["latency_ms"], 3), "Remote": True},
            )
        ]
    return docs, summary


def _handler_ms(segment: dict[str, Any]) -> float:
    handler = segment["subsegments"][0]
    return float((handler["end_time"] - handler["start_time"]) * 1000.0)


def _routing_root_cause(service: dict[str, Any], handler: dict[str, Any], database: dict[str, Any]) -> dict[str, Any]:
    """A GetTraceSummaries root cause in routing-service's call to the agent_skills database, made from
    its request handler; ``service``, ``handler`` and ``database`` add the EntityPath fields of a fault
    (Exceptions) or a response time (Coverage)."""
    return {
        "Services": [
            {
                "Name": "routing-service",
                "Names": ["routing-service"],
                "Type": "AWS::ECS::Container",
                "AccountId": ACCOUNT,
                "Inferred": False,
                "EntityPath": [
                    {"Name": "routing-service", **service},
                    {"Name": _handler_name("AssignAgent"), **handler},
                    {"Name": "agent_skills@aurora-prod", **database},
                ],
            }
        ],
        "ClientImpacting": True,
    }


def write_traces(
    out: Path, sim: Simulation, story: Story, scale: float, rng: np.random.Generator
) -> tuple[list[Path], int]:
    """Write summary and trace pages; returns the files and the number of traces."""
    rids = sample_traces(sim, scale, rng)
    rows = sim.requests.join(rids, on="rid", how="semi").filter(pl.col("service") != "notify-worker")
    rows = rows.sort(["rid", "ts_ms", "service"])
    seg_ids = hex_strings(rng, rows.height * 4 + 8 * rids.height, 8).to_list()
    pos = 0
    traces: list[dict[str, Any]] = []
    summaries: list[dict[str, Any]] = []
    for _rid, g in rows.group_by("rid", maintain_order=True):
        by_service = {r["service"]: r for r in g.iter_rows(named=True)}
        docs, summary = _documents(by_service, seg_ids[pos : pos + 12])
        pos += 12
        traces.append(
            {
                "Id": summary["Id"],
                "Duration": summary["Duration"],
                "LimitExceeded": False,
                "Segments": sorted(({"Id": d["id"], "Document": dumps(d)} for d in docs), key=lambda s: s["Id"]),
            }
        )
        summaries.append(summary)
    written = []
    folder = out / "traces"
    npages = max(1, -(-len(summaries) // SUMMARY_PAGE))
    for p in range(npages):
        chunk = summaries[p * SUMMARY_PAGE : (p + 1) * SUMMARY_PAGE]
        doc: dict[str, Any] = {
            "TraceSummaries": chunk,
            "ApproximateTime": story.end_ms // 1000,
            "TracesProcessedCount": len(chunk),
        }
        if p + 1 < npages:
            doc["NextToken"] = f"trace-summaries-page-{p + 2:04d}"
        written.append(write_json(folder / f"get-trace-summaries-{p + 1:04d}.json.gz", doc))
    # one file per BatchGetTraces call, in summary order (the CLI prints a call's pages merged)
    for c, i in enumerate(range(0, len(traces), BATCH_GET_TRACES_MAX_IDS)):
        written.append(
            write_json(
                folder / f"batch-get-traces-{c + 1:04d}.json.gz",
                {"Traces": traces[i : i + BATCH_GET_TRACES_MAX_IDS], "UnprocessedTraceIds": []},
            )
        )
    logger.debug("traces: %d in %d summary pages and %d BatchGetTraces calls", len(traces), npages,
                 len(written) - npages)
    return written, len(traces)
