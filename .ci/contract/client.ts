// A partner's first script, type-checked against the generated types (tsc --strict):
// a token, the O-PLUX account, a payment method screened by O-PLUX, one screening.
// It is compiled, never run: CI proves that the published document is enough to write it.
import createClient from "openapi-fetch";
import type { components, paths } from "./api";

type Schemas = components["schemas"];

export async function firstOrder(baseUrl: string, clientId: string, clientSecret: string): Promise<Schemas["Screening"]> {
  const anonymous = createClient<paths>({ baseUrl });
  const token = await anonymous.POST("/api/v1/auth/token", {
    body: { grant_type: "client_credentials", client_id: clientId, client_secret: clientSecret },
  });
  if (!token.data) throw new Error(`no token: ${token.error?.detail}`);
  const api = createClient<paths>({ baseUrl, headers: { Authorization: `Bearer ${token.data.access_token}` } });

  const form = await api.GET("/api/v1/providers/{provider}", { params: { path: { provider: "o-plux" } } });
  if (!form.data) throw new Error(`no form: ${form.error?.detail}`);
  const order: string[] = form.data.order;
  // Free-form objects are `unknown`-valued records, not `never`: read and written without a cast.
  const fieldsSchema: Record<string, unknown> = form.data.fields_schema;
  const properties: unknown = form.data.fields_schema["properties"];
  const uiSchema: Schemas["ProviderForm"]["ui_schema"] = { "ui:order": order, secret_key: { "ui:widget": "password" } };
  const probe: Schemas["ProviderForm"]["fields_schema"] = { type: "object", properties };
  const editing = await api.GET("/api/v1/provider-accounts/o-plux/form");
  if (!editing.data) throw new Error(`no saved account: ${editing.error?.detail}`);
  const formData: Schemas["AccountForm"]["form_data"] = { ...editing.data.form_data, enabled: false };
  const ifMatch: string = editing.data.etag;
  const eventData: Schemas["Event"]["data"] = { provider: "o-plux", fields: ["secret_key"] };
  console.log(Object.keys(fieldsSchema).length, uiSchema, probe, formData, ifMatch, eventData);

  // The client authenticated with HTTP Basic (what Swagger UI sends): only grant_type in the body.
  const basic = await anonymous.POST("/api/v1/auth/token", {
    body: { grant_type: "client_credentials", scope: "accounts:read" },
    headers: { Authorization: `Basic ${btoa(`${clientId}:${clientSecret}`)}` },
  });
  if (!basic.data) throw new Error(`no token with Basic: ${basic.error?.detail}`);

  const settings: Schemas["OpluxAccountInput"] = {
    enabled: true,
    merchant_id: "SHOP0001",
    source_id: "SRC0001",
    secret_key: "oplux-secret",
    model_id: "CRD_01",
    on_hold: { action: "redirect", redirect_url: "https://shop.example.jp/oplux/hold" },
    on_review: { action: "create_order" },
    on_ng: { action: "redirect", redirect_url: "https://shop.example.jp/oplux/ng" },
    endpoint: "test",
  };
  const account = await api.PUT("/api/v1/provider-accounts/o-plux", { body: settings });
  if (!account.data) throw new Error(`account refused: ${account.error?.errors?.map((e) => e.field).join(", ")}`);
  const mode: Schemas["Mode"] | null = account.data.mode;
  const secret: Schemas["SecretStatus"] = account.data.secret_key;

  const method: Schemas["PaymentMethodCreate"] = {
    code: "cod",
    kind: "cash_on_delivery",
    display_name: "代金引換",
    oplux_screening: true,
  };
  const created = await api.POST("/api/v1/payment-methods", { body: method });
  if (!created.data) throw new Error(`method refused: ${created.error?.detail}`);
  const provider: Schemas["ProviderSlug"] | null = created.data.provider;

  const screening = await api.POST("/api/v1/fraud-screenings", {
    body: {
      order_number: "R0000123",
      channel: "lp",
      payment_method: created.data.code,
      amount: 12800,
      ordered_at: "2026-11-23T10:00:00Z",
      customer: {
        name: { last: "山田", first: "太郎" },
        tel: "09012345670",
        address: { zipcode: "1500001", prefecture: "東京都", city: "渋谷区", line1: "神宮前1-1" },
      },
      items: [{ id: "SKU1", name: "緑茶", price: 6400, quantity: 2 }],
    },
  });
  if (!screening.data) throw new Error(`not screened: ${screening.error?.detail}`);
  console.log(order.length, mode, secret.set, provider);
  return screening.data;
}
