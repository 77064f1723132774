// react-jsonschema-form renders every provider's form as the live server describes it:
// a password input for every secret, no anyOf/oneOf chooser, and a saved account's
// form_data valid against its editing schema (ajv with JSON Schema 2020-12).
//
//   node forms.mjs BASE_URL TOKEN
import { createRequire } from "node:module";

// The packages are CommonJS builds: required, as a bundler would resolve them.
const require = createRequire(import.meta.url);
const React = require("react");
const { renderToStaticMarkup } = require("react-dom/server");
const Form = require("@rjsf/core").default;
const { customizeValidator } = require("@rjsf/validator-ajv8");
const Ajv2020 = require("ajv/dist/2020").default;

const [base, token] = process.argv.slice(2);
const validator = customizeValidator({ AjvClass: Ajv2020 });

async function get(path) {
  const response = await fetch(base + path, { headers: { Authorization: `Bearer ${token}` } });
  if (!response.ok) throw new Error(`GET ${path}: ${response.status} ${await response.text()}`);
  return response.json();
}

function render(schema, uiSchema, formData) {
  // rjsf logs schema problems to the console; any of them is a failure here.
  const logged = [];
  const { error, warn } = console;
  console.error = console.warn = (...args) => {
    // React 18.3's notice about rjsf's own widgets, not about the schema.
    if (!String(args[0]).includes("Support for defaultProps")) logged.push(args.join(" "));
  };
  try {
    const html = renderToStaticMarkup(React.createElement(Form, { schema, uiSchema, validator, formData }));
    return { html, logged };
  } finally {
    console.error = error;
    console.warn = warn;
  }
}

const failures = [];
let secrets = 0;
const { items } = await get("/api/v1/providers");
for (const { provider } of items) {
  const descriptor = await get(`/api/v1/providers/${provider}`);
  const schema = descriptor.fields_schema;
  const { html, logged } = render(schema, descriptor.ui_schema, {});
  for (const line of logged) failures.push(`${provider}: rjsf says: ${line}`);
  if (/_anyof_select|_oneof_select/.test(html)) failures.push(`${provider}: an anyOf/oneOf chooser is rendered`);
  const inputs = [];
  for (const [name, property] of Object.entries(schema.properties)) {
    const types = [property.type].flat();
    if (types.includes("object")) {
      for (const [inner, innerProperty] of Object.entries(property.properties ?? {})) {
        inputs.push([`${name}_${inner}`, innerProperty]);
      }
    } else {
      inputs.push([name, property]);
    }
  }
  for (const [id, property] of inputs) {
    const input = html.match(new RegExp(`<(input|textarea|select)[^>]*id="root_${id}"[^>]*>`));
    if (!input) {
      failures.push(`${provider}.${id}: no input rendered`);
      continue;
    }
    const password = /type="password"/.test(input[0]);
    if (property.writeOnly) secrets += 1;
    if (Boolean(property.writeOnly) !== password) {
      failures.push(`${provider}.${id}: ${property.writeOnly ? "a secret not" : "not a secret but"} rendered as a password input`);
    }
  }
  const draft = validator.validateFormData({ enabled: false }, schema);
  if (draft.errors.length) failures.push(`${provider}: a draft is refused: ${JSON.stringify(draft.errors)}`);
}

// A saved account (the demo shop's O-PLUX account): its form renders with its values,
// and the values are valid against the editing schema.
const saved = await get("/api/v1/provider-accounts/o-plux/form");
const { html, logged } = render(saved.fields_schema, saved.ui_schema, saved.form_data);
for (const line of logged) failures.push(`o-plux form: rjsf says: ${line}`);
if (!html.includes('type="password"')) failures.push("o-plux form: no password input");
const result = validator.validateFormData(saved.form_data, saved.fields_schema);
if (result.errors.length) failures.push(`o-plux form_data is not valid: ${JSON.stringify(result.errors)}`);

if (failures.length) {
  console.error(failures.join("\n"));
  process.exit(1);
}
console.log(`rjsf renders ${items.length} forms (${secrets} secrets as password inputs, no chooser)`);
