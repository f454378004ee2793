/**
 * Words for the values an action's form offers (return reasons, review decisions, ratings, closure
 * types, supervision levels) and for the unit kinds, in Chinese and English. A value without words
 * here shows as itself.
 */
import type { Lang } from "@/lib/time";

export interface Words {
  zh: string;
  en: string;
}

/** Choice values' words by enumeration (the schema's ``$defs`` name). */
export const CHOICE_WORDS: Record<string, Record<string, Words>> = {
  ReturnReason: {
    territory_mismatch: { zh: "属地不符", en: "Territory mismatch" },
    unclear_ownership: { zh: "权属不清", en: "Unclear ownership" },
    overlapping_duties: { zh: "职能交叉", en: "Overlapping duties" },
    other: { zh: "其他", en: "Other" },
  },
  ReviewDecision: {
    redispatch: { zh: "改派其他单位", en: "Re-dispatch elsewhere" },
    insist: { zh: "维持原派（审定）", en: "Insist (final ruling)" },
  },
  Rating: {
    satisfied: { zh: "满意", en: "Satisfied" },
    basically_satisfied: { zh: "基本满意", en: "Basically satisfied" },
    unsatisfied: { zh: "不满意", en: "Unsatisfied" },
    unreachable: { zh: "无法联系", en: "Unreachable" },
  },
  ClosureType: {
    normal: { zh: "正常结案", en: "Normal" },
    overdue: { zh: "超时结案", en: "Overdue" },
    error: { zh: "差错结案", en: "Error" },
    special: { zh: "特殊结案", en: "Special" },
  },
  EscalationLevel: {
    reminder: { zh: "催办", en: "Reminder (催办)" },
    supervision: { zh: "督办", en: "Supervision (督办)" },
    public_notice: { zh: "通报", en: "Public notice (通报)" },
  },
};

/** Short names of the actions for buttons (the catalogue's Chinese term; English as a verb). */
export const ACTION_WORDS: Record<string, Words> = {
  reject: { zh: "不予受理", en: "Reject" },
  register: { zh: "立案", en: "Register" },
  dispatch: { zh: "派单", en: "Dispatch" },
  accept: { zh: "签收", en: "Accept" },
  return: { zh: "退单", en: "Return" },
  review_return: { zh: "退单审核", en: "Review the return" },
  assign: { zh: "分派", en: "Assign" },
  reassign: { zh: "改派", en: "Reassign" },
  take: { zh: "认领", en: "Take" },
  submit_reply: { zh: "报审", en: "Submit for review" },
  approve_reply: { zh: "审核签发", en: "Sign off" },
  send_back: { zh: "退回重办", en: "Send back" },
  interim_reply: { zh: "阶段性答复", en: "Interim reply" },
  reclassify: { zh: "改类", en: "Reclassify" },
  set_urgency: { zh: "加急 / 降级", en: "Change urgency" },
  relocate: { zh: "改址", en: "Relocate" },
  contact: { zh: "响应", en: "Contact the resident" },
  whistle: { zh: "吹哨", en: "Blow the whistle" },
  report_in: { zh: "报到", en: "Report in" },
  complete_task: { zh: "完成任务", en: "Complete the task" },
  resolve: { zh: "办结", en: "Resolve" },
  verify: { zh: "核查", en: "Verify" },
  callback: { zh: "回访", en: "Call back" },
  close: { zh: "结案", en: "Close" },
  request_extension: { zh: "延期申请", en: "Ask for more time" },
  decide_extension: { zh: "延期审批", en: "Decide the extension" },
  pause: { zh: "暂停计时", en: "Pause the clocks" },
  resume: { zh: "恢复计时", en: "Resume the clocks" },
  shelve: { zh: "挂账", en: "Shelve" },
  unshelve: { zh: "解除挂账", en: "Unshelve" },
  terminate: { zh: "终止", en: "Terminate" },
  appeal: { zh: "申诉", en: "Appeal" },
  decide_appeal: { zh: "申诉审核", en: "Decide the appeal" },
  merge: { zh: "合并", en: "Merge" },
  attach_duplicate: { zh: "关联重复件", en: "Attach a duplicate" },
  supervise: { zh: "催办 / 督办", en: "Escalate" },
};

/** An action's button text: its short name, else the catalogue's summary. */
export function actionName(a: { name: string; summary_zh: string; summary_en: string }, lang: Lang): string {
  const w = ACTION_WORDS[a.name];
  if (w) return lang === "zh-CN" ? w.zh : w.en;
  return lang === "zh-CN" ? a.summary_zh : a.summary_en;
}

export const UNIT_KIND_WORDS: Record<string, Words> = {
  street: { zh: "街道", en: "Street" },
  grid: { zh: "网格", en: "Grid" },
  community: { zh: "社区", en: "Community" },
  department: { zh: "部门", en: "Department" },
  hotline: { zh: "12345 热线", en: "12345 hotline" },
  property: { zh: "物业企业", en: "Property company" },
  volunteer_team: { zh: "志愿者队伍", en: "Volunteer team" },
};

export function say(words: Words | undefined, lang: Lang, fallback: string): string {
  if (!words) return fallback;
  return lang === "zh-CN" ? words.zh : words.en;
}
