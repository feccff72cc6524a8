// Lint one HTML file against the caniemail data: `node doiuse.cjs FILE CLIENT-GLOB...`.
// Prints the library's result ({success, errors, notes}) as JSON; NODE_PATH finds the package.
const fs = require("fs");
const { doIUseEmail } = require("@jsx-email/doiuse-email");
const [file, ...clients] = process.argv.slice(2);
const result = doIUseEmail(fs.readFileSync(file, "utf8"), { emailClients: clients });
process.stdout.write(JSON.stringify(result, null, 1));
