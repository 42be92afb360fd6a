/** Which project: the projects a person administers, as a tree, each linking to the page they asked for. */
import { html } from '../../html.ts';
import { layout, type Chrome, type DashboardPage } from '../components.ts';
import { url } from '../routes.ts';

export interface ProjectChoice {
  id: string;
  name: string;
  depth: number;
}

export function chooseProjectPage(page: DashboardPage, chrome: Chrome, view: { projects: ProjectChoice[]; target: string }): string {
  const { t } = page;
  return layout(page, chrome, t('dash.project.choose.title'), html`
<h1>${t('dash.project.choose.title')}</h1>
<p>${t('dash.project.choose.intro')}</p>
<ul class="projects">
${view.projects.map((p) => html`<li class="depth-${Math.min(p.depth, 5)}"><a href="${url(view.target, { project: p.id })}">${p.name}</a> <code>${p.id}</code></li>`)}
</ul>`);
}
