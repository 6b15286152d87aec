"""The local payment provider's pages: plain HTML forms, no JavaScript, nothing fetched.

Served only when `ASTRA_PAYMENTS=local`. The page id in the URL is the credential, as a
provider's checkout URL is; every text shown is escaped.
"""

from __future__ import annotations

from collections.abc import Awaitable
from html import escape
from typing import Annotated

from litestar import Controller, MediaType, Response, get, post
from litestar.enums import RequestEncodingType
from litestar.params import Body, FromPath
from litestar.response import Redirect

from application.billing.local_checkout import CheckoutPage
from domain.billing.payments import CheckoutKind, LocalCheckout
from domain.errors import AstraError
from entrypoints.http.dependencies import Deps
from entrypoints.http.errors import HTTP_STATUS

CHECKOUT = "/billing/local/checkout"
PORTAL = "/billing/local/portal"
Form = Annotated[dict[str, str], Body(media_type=RequestEncodingType.URL_ENCODED)]


def _money(amount: int, currency: str) -> str:
    return f"{amount / 100:,.2f} {currency.upper()}"


def _page(title: str, body: str, status: int = 200) -> Response[str]:
    html = (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        f"<title>{escape(title)}</title>"
        "<style>body{font-family:sans-serif;max-width:40em;margin:2em auto}"
        "td,th{padding:.3em .8em;text-align:left}</style></head>"
        f"<body><h1>{escape(title)}</h1>{body}</body></html>"
    )
    return Response(html, media_type=MediaType.HTML, status_code=status)


def _error_page(error: AstraError) -> Response[str]:
    return _page("Payment", f"<p>{escape(error.message)}</p>", HTTP_STATUS[error.code])


def _lines_table(checkout: LocalCheckout) -> str:
    rows = "".join(
        f"<tr><td>{escape(line.name)}</td><td>{line.quantity}</td>"
        f"<td>{_money(line.amount * line.quantity, checkout.currency)}</td>"
        f"<td>{line.credits * line.quantity:,}</td></tr>"
        for line in checkout.lines
    )
    return (
        "<table><tr><th>Item</th><th>Quantity</th><th>Amount</th><th>Credits</th></tr>"
        f"{rows}<tr><th>Total</th><th></th><th>{_money(checkout.amount, checkout.currency)}</th>"
        f"<th>{checkout.credits:,}</th></tr></table>"
    )


def _checkout_body(page: CheckoutPage) -> str:
    checkout = page.checkout
    what = "Subscription" if checkout.kind is CheckoutKind.SUBSCRIPTION else "Credit packs"
    per = " per month" if checkout.kind is CheckoutKind.SUBSCRIPTION else ""
    body = f"<p>{what}: credits{per} as listed. Nothing is charged (local payments).</p>"
    body += _lines_table(checkout)
    if not page.is_open:
        return body + f"<p>This checkout is {escape(checkout.status.value)} or has expired.</p>"
    action = f"{CHECKOUT}/{escape(checkout.id)}"
    return body + (
        f'<form method=post action="{action}/pay"><button type=submit>Pay</button></form>'
        f'<form method=post action="{action}/cancel"><button type=submit>Cancel</button></form>'
    )


def _portal_body(page: CheckoutPage) -> str:
    subscription = page.subscription
    body = (
        f"<p>Plan: {escape(subscription.plan.value)} ({escape(subscription.period.value)}), "
        f"status {escape(subscription.status.value)}.</p>"
    )
    if subscription.scheduled is not None:
        target = subscription.scheduled.plan.value if subscription.scheduled.plan else "FREE"
        body += f"<p>Changes to {escape(target)} when the paid period ends.</p>"
    if not page.is_open or not subscription.is_paying:
        return body + "<p>Nothing to manage here.</p>"
    action = f"{PORTAL}/{escape(page.checkout.id)}"
    options = "".join(
        f'<option value="{escape(offer.id)}">{escape(offer.name)} — '
        f"{_money(offer.amount, offer.currency)}</option>"
        for offer in page.variants
    )
    return body + (
        f'<form method=post action="{action}/change"><select name=variant>{options}</select>'
        " <button type=submit>Change plan</button></form>"
        f'<form method=post action="{action}/cancel">'
        "<button type=submit>Cancel at period end</button></form>"
    )


class LocalBillingPagesController(Controller):
    path = "/billing/local"
    include_in_schema = False

    @get("/checkout/{page_id:str}", media_type=MediaType.HTML)
    async def checkout(self, page_id: FromPath[str], container: Deps) -> Response[str]:
        try:
            page = await container.billing.local_pages.show(page_id, CheckoutKind.SUBSCRIPTION)
        except AstraError as error:
            return _error_page(error)
        return _page("Checkout", _checkout_body(page))

    @post("/checkout/{page_id:str}/pay", status_code=303)
    async def pay(self, page_id: FromPath[str], container: Deps) -> Response[str] | Redirect:
        return await _then_back(container.billing.local_pages.pay(page_id), container, "paid")

    @post("/checkout/{page_id:str}/cancel", status_code=303)
    async def cancel(self, page_id: FromPath[str], container: Deps) -> Response[str] | Redirect:
        return await _then_back(
            container.billing.local_pages.cancel(page_id), container, "canceled"
        )

    @get("/portal/{page_id:str}", media_type=MediaType.HTML)
    async def portal(self, page_id: FromPath[str], container: Deps) -> Response[str]:
        try:
            page = await container.billing.local_pages.show(page_id, CheckoutKind.PORTAL)
        except AstraError as error:
            return _error_page(error)
        return _page("Billing", _portal_body(page))

    @post("/portal/{page_id:str}/change", status_code=303)
    async def change(
        self, page_id: FromPath[str], data: Form, container: Deps
    ) -> Response[str] | Redirect:
        variant = data.get("variant", "")
        return await _then_back(
            container.billing.local_pages.change_plan(page_id, variant), container, "changed"
        )

    @post("/portal/{page_id:str}/cancel", status_code=303)
    async def cancel_subscription(
        self, page_id: FromPath[str], container: Deps
    ) -> Response[str] | Redirect:
        return await _then_back(
            container.billing.local_pages.cancel_subscription(page_id), container, "canceled"
        )


async def _then_back(
    action: Awaitable[None], container: Deps, outcome: str
) -> Response[str] | Redirect:
    """Run the form's action, then send the browser back to the app (or show why not)."""
    try:
        await action
    except AstraError as error:
        return _error_page(error)
    return Redirect(f"{container.billing.return_url}?payment={outcome}", status_code=303)
