/**
 * vue-i18n, zh-CN first and English. Each feature keeps its messages in ``messages/<feature>.ts``
 * (``export default { "zh-CN": {...}, en: {...} }``) under its own top-level key; they are merged here.
 */
import { createI18n } from "vue-i18n";

type Tree = { [key: string]: string | Tree };
type Bundle = { "zh-CN": Tree; en: Tree };

const modules = import.meta.glob<{ default: Bundle }>("./messages/*.ts", { eager: true });

export const messages: Bundle = { "zh-CN": {}, en: {} };
for (const mod of Object.values(modules)) {
  Object.assign(messages["zh-CN"], mod.default["zh-CN"]);
  Object.assign(messages.en, mod.default.en);
}

export type Locale = "zh-CN" | "en";
const saved = (localStorage.getItem("gridcase.lang") as Locale | null) ?? "zh-CN";

export const i18n = createI18n({
  legacy: false,
  locale: saved,
  fallbackLocale: "en",
  messages,
  missingWarn: false,
  fallbackWarn: false,
});

export function setLocale(locale: Locale): void {
  i18n.global.locale.value = locale;
  localStorage.setItem("gridcase.lang", locale);
  document.documentElement.lang = locale;
}
