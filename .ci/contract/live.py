"""The generated Python client (openapi-python-client) against the live server: a token
with HTTP Basic and with the body, a draft Paidy account put and read back (nullable
enums), a payment method and a screening. Every answer is parsed into its model.

    python live.py GENERATED_DIR BASE_URL CLIENT_ID CLIENT_SECRET
"""

import sys

sys.path.insert(0, sys.argv[1])
base, client_id, client_secret = sys.argv[2:5]

import httpx  # noqa: E402  (a dependency of the generated client)
from renkei_client import AuthenticatedClient, Client  # noqa: E402
from renkei_client.api.auth import issue_token  # noqa: E402
from renkei_client.api.fraud_screenings import screen_order  # noqa: E402
from renkei_client.api.payment_methods import create_payment_method  # noqa: E402
from renkei_client.api.provider_accounts import (  # noqa: E402
    get_paidy_account,
    get_paidy_account_form,
    put_paidy_account,
)
from renkei_client.models import (  # noqa: E402
    PaidyAccount,
    PaidyAccountInput,
    PaymentMethodCreate,
    Screening,
    ScreeningRequest,
    TokenRequest,
    TokenResponse,
)


def check(what, answer, model):
    if not isinstance(answer.parsed, model):
        sys.exit(f"{what}: {answer.status_code} {answer.content[:500]!r}")
    return answer.parsed


anonymous = Client(base_url=base)
body = TokenRequest.from_dict(
    {"grant_type": "client_credentials", "client_id": client_id, "client_secret": client_secret}
)
token = check("token", issue_token.sync_detailed(client=anonymous, body=body), TokenResponse)
# What Swagger UI and OAuth libraries send: HTTP Basic, grant_type in a form.
basic = httpx.post(
    f"{base}/api/v1/auth/token",
    auth=(client_id, client_secret),
    data={"grant_type": "client_credentials", "scope": "accounts:read"},
)
if basic.status_code != 200 or basic.json()["scope"] != "accounts:read":
    sys.exit(f"token with HTTP Basic: {basic.status_code} {basic.text}")

api = AuthenticatedClient(base_url=base, token=token.access_token)
draft = check(
    "PUT paidy (draft)",
    put_paidy_account.sync_detailed(client=api, body=PaidyAccountInput(enabled=False)),
    PaidyAccount,
)
read = check("GET paidy (draft)", get_paidy_account.sync_detailed(client=api), PaidyAccount)
assert draft.modal_page is None and read.modal_page is None, (draft, read)
form = get_paidy_account_form.sync_detailed(client=api)
if form.status_code != 200:
    sys.exit(f"GET paidy form: {form.status_code} {form.content[:500]!r}")

method = PaymentMethodCreate.from_dict(
    {"code": "py-cod", "kind": "cash_on_delivery", "display_name": "代金引換", "oplux_screening": True}
)
created = create_payment_method.sync_detailed(client=api, body=method)
if created.status_code != 201:
    sys.exit(f"POST payment method: {created.status_code} {created.content[:500]!r}")
order = ScreeningRequest.from_dict(
    {
        "order_number": "PY-0001",
        "channel": "lp",
        "payment_method": "py-cod",
        "amount": 12800,
        "ordered_at": "2026-11-23T10:00:00Z",
        "customer": {
            "name": {"last": "山田", "first": "太郎"},
            "tel": "09012345670",
            "address": {"zipcode": "1500001", "prefecture": "東京都", "city": "渋谷区", "line1": "神宮前1-1"},
        },
        "items": [{"id": "SKU1", "name": "緑茶", "price": 6400, "quantity": 2}],
    }
)
screening = check("POST screening", screen_order.sync_detailed(client=api, body=order), Screening)
print(f"the Python client: token (body and Basic), draft Paidy PUT/GET, screening {screening.result}")
