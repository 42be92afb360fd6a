/**
 * Exported symbols of src/ that no other module imports (src/, test/, bench/, examples/, views/): either
 * dead code or an `export` keyword to drop. Run: `node test/architecture/dead-exports.ts`.
 *
 * Uses the TypeScript checker (tsconfig.json's program): an import through an index's re-export
 * (`export * from`, `export { x } from`) counts for the original declaration. The verifier's entry point
 * (`logtrace-auth/verifier`, package.json exports) is public surface and is not listed.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const PUBLIC = new Set([path.join(ROOT, 'src/verifier/index.ts')]);

const configFile = ts.readConfigFile(path.join(ROOT, 'tsconfig.json'), (f) => ts.sys.readFile(f));
const parsed = ts.parseJsonConfigFileContent(configFile.config, ts.sys, ROOT);
const program = ts.createProgram({ rootNames: [...parsed.fileNames, ...ts.sys.readDirectory(path.join(ROOT, 'views'), ['.ts'])], options: parsed.options });
const checker = program.getTypeChecker();
const mine = (f: ts.SourceFile) => !f.isDeclarationFile && f.fileName.startsWith(ROOT) && !f.fileName.includes('node_modules');

const original = (symbol: ts.Symbol): ts.Symbol => (symbol.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(symbol) : symbol);

/** Declarations imported (or re-exported and then imported) by a module other than their own. */
const used = new Set<ts.Symbol>();
// An index's re-export alone is no use: only imports count, resolved to the declaration they reach.
for (const file of program.getSourceFiles().filter(mine)) {
  const visit = (node: ts.Node): void => {
    if (ts.isImportSpecifier(node) || ts.isImportClause(node) || ts.isNamespaceImport(node)) {
      const name = ts.isImportClause(node) ? node.name : node.name;
      if (name) {
        const symbol = checker.getSymbolAtLocation(name);
        if (symbol) {
          const target = original(symbol);
          used.add(target);
          // `import * as x`: every export of the module is reachable.
          if (ts.isNamespaceImport(node)) for (const e of checker.getExportsOfModule(target)) used.add(original(e));
        }
      }
    }
    if (ts.isImportTypeNode(node) && node.qualifier) {
      const symbol = checker.getSymbolAtLocation(node.qualifier);
      if (symbol) used.add(original(symbol));
    }
    // import('…') at run time: every export of that module is reachable.
    if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) {
      const arg = node.arguments[0];
      const moduleSymbol = arg ? checker.getSymbolAtLocation(arg) : undefined;
      if (moduleSymbol) for (const e of checker.getExportsOfModule(moduleSymbol)) used.add(original(e));
    }
    ts.forEachChild(node, visit);
  };
  visit(file);
}

const rows: string[] = [];
for (const file of program.getSourceFiles().filter(mine)) {
  const rel = path.relative(ROOT, file.fileName);
  if (!rel.startsWith('src/') || rel.endsWith('.test.ts') || PUBLIC.has(file.fileName)) continue;
  const moduleSymbol = checker.getSymbolAtLocation(file);
  if (!moduleSymbol) continue;
  for (const exported of checker.getExportsOfModule(moduleSymbol)) {
    const target = original(exported);
    // Only declarations made in this file (re-exports are judged where they are declared).
    const declaration = target.declarations?.[0];
    if (!declaration || declaration.getSourceFile() !== file) continue;
    if (used.has(target)) continue;
    const line = file.getLineAndCharacterOfPosition(declaration.getStart()).line + 1;
    const kind = target.flags & ts.SymbolFlags.Value ? 'value' : 'type';
    rows.push(`${rel}:${line} ${exported.getName()} (${kind})`);
  }
}
const publicSurface = new Set<ts.Symbol>();
for (const entry of PUBLIC) {
  const sf = program.getSourceFile(entry);
  const sym = sf && checker.getSymbolAtLocation(sf);
  if (sym) for (const e of checker.getExportsOfModule(sym)) publicSurface.add(original(e));
}
console.log(rows.filter((row) => ![...publicSurface].some((s) => row.includes(` ${s.getName()} (`) && row.startsWith('src/verifier/'))).join('\n'));
