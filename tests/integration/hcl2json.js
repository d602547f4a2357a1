// Usage: node hcl2json.js <@cdktf/hcl2json module path> FILE.tf...
//
// Prints {"FILE.tf": <the file as JSON>, ...} using @cdktf/hcl2json (the
// HCL parser of Terraform itself, compiled to WebAssembly). A file that does
// not parse fails the run with the parser's message.
const [modPath, ...files] = process.argv.slice(2);
if (!modPath || files.length === 0) {
  console.error('usage: node hcl2json.js <module> FILE.tf...');
  process.exit(2);
}
const fs = require('fs');
const { parse } = require(modPath);
(async () => {
  const out = {};
  for (const f of files) {
    try {
      out[f] = await parse(f, fs.readFileSync(f, 'utf8'));
    } catch (e) {
      console.error(`${f}: ${e.message || e}`);
      process.exit(1);
    }
  }
  process.stdout.write(JSON.stringify(out));
})();
