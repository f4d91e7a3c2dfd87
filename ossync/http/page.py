"""The status page: plain server-rendered HTML, every value escaped, a little CSS, no
script. Queue counts, why uploads are held (if they are), the watch folders, the event
deliveries, failures with a retry button (a POST that carries a CSRF token), and the
last uploads as thumbnails.

File names are shown, and sent back by the retry button, in their printable form
(`ossync.core.textforms`): one line, valid UTF-8, and read back exactly by `os_path`,
whatever bytes the name holds."""

from __future__ import annotations

import html
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import PurePosixPath

from ossync.core.textforms import printable
from ossync.http.ready import Verdict
from ossync.http.view import FolderState
from ossync.ledger import Delivery, Item, Status

THUMBNAIL = "image/resize,w_160"  # OSS image processing: a 160 px wide thumbnail
RECENT = 50
FAILURES = 50
REFRESH = 60  # seconds between reloads of an open page


def esc(value: object) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def size_text(value: int | None) -> str:
    if value is None:
        return "-"
    size = float(value)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if size < 1000 or unit == "TB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{size:.1f} TB"


def time_text(stamp: str | None) -> str:
    """`2026-05-01T10:00:00.123Z` → a <time> showing `2026-05-01 10:00:00 UTC`."""
    if not stamp:
        return "-"
    shown = stamp[:19].replace("T", " ") + " UTC"
    return f'<time datetime="{esc(stamp)}">{esc(shown)}</time>'


@dataclass(frozen=True)
class Shown:
    """An uploaded item with the two URLs the page links: the object and its thumbnail."""

    item: Item
    url: str | None
    thumbnail: str | None


@dataclass(frozen=True)
class PageData:
    host: str
    status: Status
    folders: list[FolderState]
    recent: list[Shown]
    failures: list[Item]
    verdict: Verdict
    csrf: str
    flash: str | None = None
    signed_in: bool = False  # a session: the page offers to sign out
    deliveries: tuple[Delivery, ...] = ()  # the config's endpoints' cursors
    held: tuple[str, ...] = ()  # why uploads are held now
    replicas: tuple[tuple[str, Status], ...] = ()  # each replica's copies, summed up
    uploads: bool = False  # `uploads:` is on: the page links the upload page


def head(title: str, *, extra: str = "", refresh: bool = True) -> str:
    reload = f'<meta http-equiv="refresh" content="{REFRESH}">' if refresh else ""
    return ('<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f'{reload}<title>{esc(title)}</title>{extra}'
            '<link rel="stylesheet" href="/style.css"></head>')


def render(data: PageData) -> str:
    status = data.status
    parts = [head(f"ossync · {data.host}"), "<body><header>",
             f'<h1>ossync <span class="host">{esc(data.host)}</span></h1>', _badge(data.verdict),
             '<a href="/upload">Upload photos</a>' if data.uploads else "",
             _sign_out(data.csrf) if data.signed_in else "", "</header><main>"]
    if data.flash:
        parts.append(f'<p class="flash" role="status">{esc(data.flash)}</p>')
    parts += [f'<p class="flash bad" role="status">{esc(h)}</p>' for h in data.held]
    parts.append(_counts(status))
    parts.append(f'<p class="meta">Last upload {time_text(status.last_upload_at)} · oldest '
                 f"waiting since {time_text(status.oldest_pending_since)} · "
                 f"{esc(status.uploads_total)} object(s) in all</p>")
    parts.append(_folders(data.folders))
    if data.replicas:
        parts.append(_replicas(data.replicas))
    if data.deliveries:
        parts.append(_deliveries(data.deliveries))
    parts.append(_failures(data.failures, status.failed, data.csrf))
    parts.append(_recent(data.recent))
    parts.append("</main></body></html>\n")
    return "".join(parts)


def _sign_out(csrf: str) -> str:
    return ('<form method="post" action="/logout" class="signout">'
            f'<input type="hidden" name="csrf" value="{esc(csrf)}">'
            '<button type="submit">Sign out</button></form>')


def _badge(verdict: Verdict) -> str:
    if verdict.ready:
        return '<p class="badge ok">ready</p>'
    reasons = "".join(f"<li>{esc(p)}</li>" for p in verdict.problems)
    return f'<div class="badge bad"><p>not ready</p><ul>{reasons}</ul></div>'


def _counts(status: Status) -> str:
    cells = [("queued", status.queued, ""), ("uploading", status.in_progress, ""),
             ("uploaded today", status.uploaded_today, ""),
             ("failed", status.failed, " bad" if status.failed else ""),
             ("skipped", status.skipped, "")]
    inner = "".join(f'<div class="stat{extra}"><b>{esc(n)}</b><span>{esc(name)}</span></div>'
                    for name, n, extra in cells)
    return f'<section class="counts" aria-label="queue">{inner}</section>'


def _folders(folders: Iterable[FolderState]) -> str:
    rows = "".join(
        f'<tr><td>{esc(f.label)}</td><td class="path">{esc(printable(str(f.path)))}</td>'
        f'<td><span class="state {esc(f.state)}">{esc(f.state)}</span></td>'
        f"<td>{esc(size_text(f.avail_bytes))} free</td></tr>" for f in folders)
    return ('<section><h2>Folders</h2><div class="scroll"><table><thead><tr><th>label</th>'
            f"<th>path</th><th>state</th><th>disk</th></tr></thead><tbody>{rows}"
            "</tbody></table></div></section>")


def _replicas(replicas: Iterable[tuple[str, Status]]) -> str:
    """Each replica: its copies by state, the oldest waiting and the last one stored."""
    rows = "".join(
        f"<tr><td>{esc(name)}</td><td>{esc(s.queued)}</td><td>{esc(s.in_progress)}</td>"
        f"<td>{esc(s.uploaded_files)}</td><td{' class=bad' if s.failed else ''}>"
        f"{esc(s.failed)}</td><td>{time_text(s.oldest_pending_since)}</td>"
        f"<td>{time_text(s.last_upload_at)}</td></tr>" for name, s in replicas)
    return ('<section><h2>Replicas</h2><div class="scroll"><table><thead><tr>'
            "<th>replica</th><th>queued</th><th>copying</th><th>copied</th><th>failed</th>"
            "<th>oldest waiting</th><th>last copy</th></tr></thead>"
            f"<tbody>{rows}</tbody></table></div></section>")


def _deliveries(deliveries: Iterable[Delivery]) -> str:
    """Each endpoint: how far it got, what waits for it, and its last refusal."""
    rows = "".join(
        f"<tr><td>{esc(d.endpoint)}</td><td>{esc(d.delivered)}</td>"
        f'<td{" class=bad" if d.pending and d.attempts else ""}>{esc(d.pending)}</td>'
        f"<td>{time_text(d.oldest_pending_at)}</td><td>{esc(d.sent)}</td>"
        f"<td>{esc(d.given_up)}</td><td>{esc(printable(d.last_error or '-'))}</td></tr>"
        for d in deliveries)
    return ('<section><h2>Deliveries</h2><div class="scroll"><table><thead><tr>'
            "<th>endpoint</th><th>through event</th><th>waiting</th><th>oldest waiting"
            "</th><th>sent</th><th>given up</th><th>last error</th></tr></thead>"
            f"<tbody>{rows}</tbody></table></div></section>")


def _failures(failures: list[Item], total: int, csrf: str) -> str:
    if not failures:
        return '<section><h2>Failures</h2><p class="none">None.</p></section>'
    rows = "".join(
        f'<li class="failure"><div class="path">{esc(printable(i.path))}</div>'
        f'<div class="reason">{esc(printable(i.last_error or "(no message)"))}</div>'
        f'<div class="when">{esc(i.attempts)} attempt(s), {time_text(i.updated_at)}</div>'
        '<form method="post" action="/retry">'
        f'<input type="hidden" name="path" value="{esc(printable(i.path))}">'
        f'<input type="hidden" name="csrf" value="{esc(csrf)}">'
        f'<button type="submit" aria-label="retry {esc(printable(i.path))}">Retry</button>'
        "</form></li>" for i in failures)
    more = (f'<p class="meta">{esc(total - len(failures))} more: <code>ossync retry '
            "--all</code></p>" if total > len(failures) else "")
    return (f'<section><h2>Failures ({esc(total)})</h2><ul class="failures">{rows}</ul>'
            f"{more}</section>")


def _recent(shown: list[Shown]) -> str:
    if not shown:
        return '<section><h2>Last uploads</h2><p class="none">Nothing uploaded yet.</p></section>'
    cells = []
    for s in shown:
        name = printable(PurePosixPath(s.item.path).name)
        image = (f'<img src="{esc(s.thumbnail)}" alt="{esc(name)}" loading="lazy" width="160">'
                 if s.thumbnail else '<span class="noimg">no preview</span>')
        link = f'<a href="{esc(s.url)}">{image}</a>' if s.url else image
        cells.append(f'<li>{link}<span class="name" title="{esc(printable(s.item.path))}">'
                     f"{esc(name)}"
                     f'</span><span class="folder">{esc(s.item.folder)}</span>'
                     f"{time_text(s.item.updated_at)}</li>")
    return (f"<section><h2>Last {len(shown)} uploads</h2><ul class=\"grid\">{''.join(cells)}"
            "</ul></section>")


def login_page(message: str | None = None) -> str:
    note = f'<p class="flash bad" role="alert">{esc(message)}</p>' if message else ""
    return (head("ossync · sign in") + '<body><main class="login"><h1>ossync</h1>'
            f'{note}<form method="post" action="/login"><label for="token">Access token'
            '</label><input id="token" name="token" type="password" autocomplete="current-'
            'password" required><button type="submit">Sign in</button></form></main>'
            "</body></html>\n")


def locked_page(message: str) -> str:
    """What the page says while the token is required and none is configured."""
    return (head("ossync · token required") + '<body><main class="login"><h1>ossync</h1>'
            f'<p class="flash bad" role="alert">{esc(message)}</p></main></body></html>\n')


STYLE = """\
:root{--fg:#1d232a;--muted:#5f6b76;--line:#dfe3e8;--bg:#f6f7f9;--ok:#1f7a3d;--bad:#b42318}
*{box-sizing:border-box}
body{margin:0;font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;
color:var(--fg);background:var(--bg)}
header{display:flex;flex-wrap:wrap;align-items:center;justify-content:space-between;
gap:.5rem;padding:.75rem 1rem;background:#fff;border-bottom:1px solid var(--line)}
h1{font-size:1.25rem;margin:0}h2{font-size:1.05rem;margin:1.5rem 0 .5rem}
.host{color:var(--muted);font-weight:400}
main{max-width:72rem;margin:0 auto;padding:0 1rem 2rem}
.badge{margin:0;padding:.2rem .7rem;border-radius:1rem;font-weight:600}
.badge.ok{background:#e3f4e8;color:var(--ok)}
.badge.bad{background:#fde8e6;color:var(--bad);border-radius:.5rem}
.badge.bad p{margin:0}.badge.bad ul{margin:.2rem 0 0;padding-left:1.1rem;font-weight:400}
.flash{background:#fff8db;border:1px solid #f0d66b;padding:.5rem .75rem;border-radius:.4rem}
.counts{display:grid;grid-template-columns:repeat(auto-fit,minmax(7.5rem,1fr));gap:.5rem;
margin-top:1rem}
.stat{background:#fff;border:1px solid var(--line);border-radius:.5rem;padding:.6rem .8rem}
.stat b{display:block;font-size:1.6rem}.stat span{color:var(--muted)}
.stat.bad b{color:var(--bad)}
.meta,.none{color:var(--muted)}
.scroll{overflow-x:auto}
table{border-collapse:collapse;width:100%;background:#fff;border:1px solid var(--line)}
th,td{text-align:left;padding:.4rem .6rem;border-bottom:1px solid var(--line)}
td.bad{color:var(--bad);font-weight:600}
td.path,.failure .path{font-family:ui-monospace,monospace;font-size:.85rem;word-break:break-all}
.state{padding:.05rem .5rem;border-radius:.8rem;background:#e3f4e8;color:var(--ok)}
.state.polled{background:#fff3d6;color:#8a5a00}.state.missing{background:#fde8e6;color:var(--bad)}
ul.failures,ul.grid{list-style:none;margin:0;padding:0}
.failure{background:#fff;border:1px solid var(--line);border-left:4px solid var(--bad);
border-radius:.4rem;padding:.6rem .8rem;margin-bottom:.5rem}
.failure .reason{color:var(--bad);margin:.2rem 0}.failure .when{color:var(--muted)}
.failure form{margin-top:.4rem}
button{font:inherit;padding:.35rem 1rem;border:1px solid #9aa5b1;border-radius:.4rem;
background:#fff;cursor:pointer}button:hover{background:#eef1f4}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(150px,1fr));gap:.6rem}
.grid li{background:#fff;border:1px solid var(--line);border-radius:.4rem;padding:.4rem;
overflow:hidden}
.grid img{display:block;width:100%;height:120px;object-fit:cover;background:#eef1f4}
.grid .noimg{display:flex;height:120px;align-items:center;justify-content:center;
color:var(--muted);background:#eef1f4}
.grid .name{display:block;font-weight:600;white-space:nowrap;overflow:hidden;
text-overflow:ellipsis}
.grid .folder,.grid time{display:block;color:var(--muted);font-size:.8rem}
.login{max-width:22rem;padding-top:3rem}.login form{display:grid;gap:.5rem}
.login input{font:inherit;padding:.4rem}
.signout{margin:0}
"""
