"""The seed city: generated deterministically from a seed, at the scale of a real provincial capital.

Nine districts, 56 streets, 344 communities, 3,779 grids, 6,168 full-time grid workers (plus one
leader and one manager per grid and part-time workers: "1+1+1+N"), 46 departments, the sections
(科室) of every department (two to four each) and of every street office (four each), one to three
property companies per street (红色物业, serving the street's communities between them, ids
``P-<street digits>-<n>``), a volunteer team per community (``V-<community id>``), each with two or
three staff, and a catalogue of city-management parts and events and 12345 hotline categories. Names
are synthetic.

Geometry: a lattice of about 160 × 140 points (about 200 m apart) around 40.82°N 111.67°E, each
point moved by a random offset of under a quarter of the spacing. The city's lattice rectangle is cut
recursively (guillotine cuts, proportional to the number of grids) into districts, streets,
communities and grids; a grid's polygon runs through every lattice point on its border, so
neighbouring grids share their border points exactly: the grids tile each community, street and
district without gaps or overlaps.

The same seed always gives the same files, byte for byte.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

from city.model import (
    CategoryEntry,
    CategoryKind,
    CityData,
    Community,
    Department,
    District,
    GridCell,
    PropertyCompany,
    RoutingRule,
    Section,
    StaffMember,
    StaffRole,
    Street,
    UnitStaffMember,
    UrgencyRule,
    VolunteerTeam,
)
from events.base import UnitKind
from events.schemas import Urgency

DEFAULT_SEED = 2026
SEED_DIR = Path(__file__).parent / "data" / "seed"

DISTRICT_NAMES = ["青山区", "金桥区", "玉湖区", "北苑区", "南岭区", "东河区", "西林区", "云台县", "长川县"]
#: Streets per district (56 in all); the urban districts are the larger ones.
STREETS_PER_DISTRICT = [10, 9, 9, 8, 6, 5, 4, 3, 2]
COMMUNITIES = 344
GRIDS = 3779
FULL_TIME_WORKERS = 6168

LON0, LAT0 = 111.48, 40.70  # south-west corner
DLON, DLAT = 0.0024, 0.0018  # lattice spacing: about 200 m each way at this latitude
COLS, ROWS = 160, 142
JITTER = 0.22  # share of the spacing a lattice point may move

_FIRST = "兴通光和胜新建锦人丰团友幸东解中青文振长安永康朝红石民学金昭桃乌富春泰嘉恒瑞祥华宏盛丽翠碧"
_SECOND = "隆道明平利华设绣民收结谊福风放山年化兴乐康宁顺阳旗羊府桥君花素源泉林湖园苑台川岭河城峰"
_GRID_SUFFIXES = [
    "花园",
    "小区",
    "家园",
    "新村",
    "公寓",
    "嘉园",
    "佳苑",
    "名苑",
    "雅居",
    "华府",
    "大厦",
    "商城",
    "广场",
    "里弄",
    "东区",
    "西区",
    "北院",
    "南院",
]
_SURNAMES = (
    "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董萧程曹袁邓许傅沈曾彭吕苏卢蒋蔡贾丁魏薛叶阎余潘"
    "杜戴夏钟汪田任姜范方石姚谭廖邹熊金陆郝孔白崔康毛邱秦江史顾侯邵孟龙万段雷钱汤尹黎易常武乔贺赖龚文"
)
_GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华建国志强海燕红梅玉兰春梅文斌俊峰晓东雪梅丹宇浩然"

_PROPERTY_SUFFIXES = ["物业服务有限公司", "物业管理有限公司", "物业服务集团有限公司", "红色物业服务中心"]

# (id, name, head title)
DEPARTMENTS: list[tuple[str, str, str]] = [
    ("urban-management", "城市管理综合执法局", "局长"),
    ("housing", "住房和城乡建设局", "局长"),
    ("water", "水务局", "局长"),
    ("environment", "生态环境分局", "局长"),
    ("market", "市场监督管理局", "局长"),
    ("transport", "交通运输局", "局长"),
    ("public-security", "公安分局", "局长"),
    ("traffic-police", "交警大队", "大队长"),
    ("fire", "消防救援大队", "大队长"),
    ("health", "卫生健康委员会", "主任"),
    ("education", "教育局", "局长"),
    ("civil-affairs", "民政局", "局长"),
    ("hr-social", "人力资源和社会保障局", "局长"),
    ("natural-resources", "自然资源分局", "局长"),
    ("emergency", "应急管理局", "局长"),
    ("commerce", "商务局", "局长"),
    ("culture-tourism", "文化旅游体育局", "局长"),
    ("agriculture", "农牧局", "局长"),
    ("justice", "司法局", "局长"),
    ("petitions", "信访局", "局长"),
    ("finance", "财政局", "局长"),
    ("audit", "审计局", "局长"),
    ("statistics", "统计局", "局长"),
    ("development-reform", "发展和改革委员会", "主任"),
    ("industry-it", "工业和信息化局", "局长"),
    ("science-tech", "科学技术局", "局长"),
    ("veterans", "退役军人事务局", "局长"),
    ("medical-insurance", "医疗保障局", "局长"),
    ("forestry", "林业和草原局", "局长"),
    ("power", "供电分公司", "经理"),
    ("gas", "燃气公司", "经理"),
    ("heating", "热力公司", "经理"),
    ("water-supply", "供水公司", "经理"),
    ("drainage", "排水事业管理中心", "主任"),
    ("landscaping", "园林绿化中心", "主任"),
    ("sanitation", "环境卫生服务中心", "主任"),
    ("municipal", "市政设施管理中心", "主任"),
    ("real-estate", "房产事务中心", "主任"),
    ("housing-security", "住房保障中心", "主任"),
    ("civil-defence", "人民防空办公室", "主任"),
    ("ethnic-religious", "民族宗教事务局", "局长"),
    ("administrative-approval", "行政审批和政务服务局", "局长"),
    ("data", "大数据中心", "主任"),
    ("tax", "税务局", "局长"),
    ("disabled-persons", "残疾人联合会", "理事长"),
    ("womens-federation", "妇女联合会", "主席"),
]

#: The sections (科室) of each department: (id, name), in display order.
DEPARTMENT_SECTIONS: dict[str, list[tuple[str, str]]] = {
    "urban-management": [
        ("enforcement", "执法监察科"),
        ("city-appearance", "市容环境管理科"),
        ("outdoor-ads", "户外广告管理科"),
        ("office", "办公室"),
    ],
    "housing": [
        ("construction-market", "建筑市场监管科"),
        ("quality-safety", "质量安全监督科"),
        ("property", "物业管理科"),
        ("inspection", "城建监察科"),
    ],
    "water": [("water-resources", "水资源管理科"), ("rivers", "河湖管理科"), ("flood-control", "防汛抗旱科")],
    "environment": [("air", "大气环境科"), ("water-soil", "水土环境科"), ("enforcement", "生态环境执法科")],
    "market": [
        ("food-safety", "食品安全监管科"),
        ("special-equipment", "特种设备安全监察科"),
        ("consumer", "消费者权益保护科"),
        ("registration", "登记注册科"),
    ],
    "transport": [
        ("road-transport", "道路运输管理科"),
        ("public-transit", "公交客运管理科"),
        ("highways", "公路养护科"),
    ],
    "public-security": [("household", "户政管理科"), ("public-order", "治安管理科"), ("command", "指挥中心")],
    "traffic-police": [("accidents", "事故处理中队"), ("order", "秩序管理中队"), ("facilities", "交通设施科")],
    "fire": [("fire-prevention", "防火监督科"), ("operations", "战训科")],
    "health": [("medical", "医政医管科"), ("public-health", "公共卫生科"), ("elderly-health", "老龄健康科")],
    "education": [("basic-education", "基础教育科"), ("preschool", "学前教育科"), ("safety", "安全稳定科")],
    "civil-affairs": [("elderly", "养老服务科"), ("assistance", "社会救助科"), ("community", "基层政权和社区建设科")],
    "hr-social": [("labour-inspection", "劳动保障监察科"), ("employment", "就业促进科"), ("insurance", "社会保险科")],
    "natural-resources": [("registration", "不动产登记科"), ("planning", "规划管理科"), ("enforcement", "执法监察科")],
    "emergency": [("work-safety", "安全生产监督管理科"), ("disasters", "防灾减灾科"), ("rescue", "应急救援科")],
    "commerce": [("trade", "商贸流通科"), ("market-operation", "市场运行科")],
    "culture-tourism": [("culture-market", "文化市场管理科"), ("tourism", "旅游发展科"), ("sports", "体育科")],
    "agriculture": [("animal-husbandry", "畜牧兽医科"), ("crops", "种植业管理科"), ("quality", "农畜产品质量安全科")],
    "justice": [("mediation", "人民调解科"), ("legal-aid", "法律援助科"), ("community-correction", "社区矫正科")],
    "petitions": [("reception", "接待科"), ("letters", "来信办理科"), ("supervision", "督查督办科")],
    "finance": [("budget", "预算科"), ("treasury", "国库科")],
    "audit": [("fiscal", "财政审计科"), ("economic-responsibility", "经济责任审计科")],
    "statistics": [("general", "综合统计科"), ("enterprise", "企业统计科")],
    "development-reform": [("planning", "规划科"), ("investment", "投资科"), ("prices", "价格管理科")],
    "industry-it": [("industry", "工业发展科"), ("informatisation", "信息化推进科")],
    "science-tech": [("innovation", "科技创新科"), ("transfer", "成果转化科")],
    "veterans": [("placement", "移交安置科"), ("support", "拥军优抚科")],
    "medical-insurance": [
        ("benefits", "待遇保障科"),
        ("fund-supervision", "基金监管科"),
        ("pricing", "医药价格和招采科"),
    ],
    "forestry": [
        ("forest-resources", "森林资源保护科"),
        ("grassland", "草原管理科"),
        ("fire-prevention", "森林防火科"),
    ],
    "power": [("repair", "抢修班"), ("metering", "计量管理班"), ("customer-service", "客户服务中心")],
    "gas": [("repair", "抢修队"), ("safety", "安全检查科"), ("customer-service", "客户服务中心")],
    "heating": [("dispatch", "调度中心"), ("network", "管网维修科"), ("customer-service", "客户服务中心")],
    "water-supply": [("repair", "管网抢修科"), ("metering", "水表计量科"), ("customer-service", "客户服务中心")],
    "drainage": [("network", "管网养护科"), ("pumping", "泵站管理科")],
    "landscaping": [("maintenance", "绿化养护科"), ("old-trees", "古树名木保护科")],
    "sanitation": [("street-cleaning", "道路清扫科"), ("collection", "垃圾清运科"), ("toilets", "公厕管理科")],
    "municipal": [
        ("roads", "道路养护科"),
        ("lighting", "路灯管理科"),
        ("bridges", "桥梁设施科"),
        ("manholes", "井盖管理科"),
    ],
    "real-estate": [("property", "物业管理科"), ("rental", "房屋租赁管理科"), ("transactions", "房产交易科")],
    "housing-security": [("public-rental", "公租房管理科"), ("subsidy", "租赁补贴科")],
    "civil-defence": [("works", "人防工程管理科"), ("alarms", "通信警报科")],
    "ethnic-religious": [("ethnic", "民族工作科"), ("religious", "宗教事务科")],
    "administrative-approval": [
        ("approval", "综合审批科"),
        ("hotline", "12345热线管理科"),
        ("supervision", "效能监督科"),
    ],
    "data": [("platform", "平台运维科"), ("data-resources", "数据资源科")],
    "tax": [("taxpayer-service", "纳税服务科"), ("collection", "征收管理科"), ("inspection", "税务稽查科")],
    "disabled-persons": [("rehabilitation", "康复部"), ("employment", "教育就业部"), ("rights", "维权部")],
    "womens-federation": [("rights", "权益部"), ("family", "家庭和儿童工作部")],
}
#: The sections (科室) of every street office: (id, name), in display order.
STREET_SECTIONS: list[tuple[str, str]] = [
    ("office", "综合办公室"),
    ("urban", "城市管理科"),
    ("community-affairs", "社区建设科"),
    ("safety", "平安建设科"),
]

# (code, kind, group, name, name_zh, weight, route, departments, needs_whistle, default urgency,
#  [(urgency, keywords)])
_U, _O = Urgency.URGENT, Urgency.ORDINARY
_G, _S, _D = UnitKind.GRID, UnitKind.STREET, UnitKind.DEPARTMENT
_P, _E, _H = CategoryKind.PART, CategoryKind.EVENT, CategoryKind.HOTLINE
CATALOGUE: list[
    tuple[str, CategoryKind, str, str, str, float, UnitKind, tuple[str, ...], bool, Urgency, list[tuple[Urgency, str]]]
] = [
    (
        "manhole-cover",
        _P,
        "公用设施",
        "Missing or broken manhole cover",
        "井盖缺失破损",
        2.0,
        _D,
        ("municipal",),
        False,
        _U,
        [],
    ),
    ("streetlight", _P, "公用设施", "Streetlight out", "路灯不亮", 3.0, _D, ("municipal",), False, _O, []),
    ("water-pipe", _P, "公用设施", "Burst water main", "供水管道破裂", 1.5, _D, ("water-supply",), False, _U, []),
    ("gas-leak", _P, "公用设施", "Gas pipe leak", "燃气管道泄漏", 0.5, _D, ("gas",), False, _U, []),
    (
        "heating",
        _P,
        "公用设施",
        "Heating not warm enough",
        "供暖不热",
        6.0,
        _D,
        ("heating",),
        False,
        _O,
        [(_U, "老人|婴儿|病人|停暖|结冰")],
    ),
    ("fire-hydrant", _P, "公用设施", "Damaged fire hydrant", "消火栓损坏", 0.5, _D, ("fire",), False, _O, []),
    (
        "traffic-signal",
        _P,
        "道路交通",
        "Traffic signal fault",
        "交通信号灯故障",
        1.0,
        _D,
        ("traffic-police",),
        False,
        _U,
        [],
    ),
    (
        "road-damage",
        _P,
        "道路交通",
        "Damaged road surface",
        "道路破损坑洼",
        3.0,
        _D,
        ("municipal",),
        False,
        _O,
        [(_U, "塌陷|大坑|事故")],
    ),
    ("bus-shelter", _P, "道路交通", "Damaged bus shelter", "公交站亭损坏", 0.8, _D, ("transport",), False, _O, []),
    ("trash-bin", _P, "市容环境", "Broken litter bin", "垃圾箱破损", 1.5, _G, (), False, _O, []),
    (
        "public-toilet",
        _P,
        "市容环境",
        "Public toilet out of order",
        "公厕设施损坏",
        1.0,
        _D,
        ("sanitation",),
        False,
        _O,
        [],
    ),
    ("billboard-unsafe", _P, "市容环境", "Loose billboard", "广告牌松动", 0.6, _S, ("urban-management",), True, _U, []),
    ("greenbelt", _P, "园林绿化", "Damaged green space", "绿地损毁", 1.2, _D, ("landscaping",), False, _O, []),
    ("fallen-tree", _P, "园林绿化", "Fallen tree", "树木倒伏", 0.8, _D, ("landscaping",), False, _U, []),
    ("garbage", _E, "市容环境", "Garbage not collected", "垃圾清运不及时", 8.0, _G, (), False, _O, []),
    ("noise", _E, "环境保护", "Noise nuisance", "噪音扰民", 7.0, _S, ("environment",), False, _O, [(_U, "深夜|凌晨")]),
    (
        "illegal-parking",
        _E,
        "街面秩序",
        "Illegal parking",
        "违规停车",
        6.0,
        _S,
        ("urban-management", "transport"),
        True,
        _O,
        [(_U, "消防通道|堵塞救护")],
    ),
    (
        "illegal-construction",
        _E,
        "施工管理",
        "Illegal construction",
        "违法建设",
        4.0,
        _S,
        ("urban-management", "housing", "market"),
        True,
        _O,
        [],
    ),
    ("water", _E, "公用事业", "Water supply outage", "停水", 4.0, _D, ("water",), False, _U, []),
    ("food-safety", _E, "市场监管", "Food safety", "食品安全", 2.5, _D, ("market",), False, _O, [(_U, "中毒|腹泻")]),
    (
        "street-vendor",
        _E,
        "街面秩序",
        "Street vending on the pavement",
        "占道经营",
        4.0,
        _S,
        ("urban-management",),
        False,
        _O,
        [],
    ),
    (
        "night-construction",
        _E,
        "施工管理",
        "Construction at night",
        "夜间施工扰民",
        3.0,
        _S,
        ("environment", "housing"),
        True,
        _O,
        [],
    ),
    ("construction-dust", _E, "施工管理", "Construction dust", "施工扬尘", 2.0, _D, ("environment",), False, _O, []),
    ("sewage-overflow", _E, "市容环境", "Sewage overflow", "污水冒溢", 2.0, _D, ("drainage",), False, _U, []),
    ("flyposting", _E, "宣传广告", "Fly-posting", "乱贴小广告", 2.0, _G, (), False, _O, []),
    ("pet-nuisance", _E, "社区事务", "Pet nuisance", "宠物扰民", 1.5, _G, (), False, _O, []),
    ("corridor-clutter", _E, "社区事务", "Clutter in stairwells", "楼道堆物", 2.0, _G, (), False, _O, []),
    ("ebike-charging", _E, "突发事件", "E-bike charged over flying wires", "飞线充电", 1.5, _G, (), False, _U, []),
    (
        "property-dispute",
        _E,
        "社区事务",
        "Property management dispute",
        "物业纠纷",
        5.0,
        _S,
        ("real-estate",),
        False,
        _O,
        [],
    ),
    ("elevator", _E, "公用设施", "Lift out of order", "电梯故障", 2.0, _D, ("market",), False, _O, [(_U, "困人|被困")]),
    ("neighbour-dispute", _E, "社区事务", "Dispute between neighbours", "邻里纠纷", 2.5, _G, (), False, _O, []),
    (
        "cooking-fumes",
        _E,
        "环境保护",
        "Restaurant cooking fumes",
        "餐饮油烟",
        2.5,
        _S,
        ("environment", "urban-management"),
        True,
        _O,
        [],
    ),
    ("power-outage", _E, "公用事业", "Power outage", "停电", 2.5, _D, ("power",), False, _U, []),
    (
        "snow-ice",
        _E,
        "市容环境",
        "Snow and ice not cleared",
        "积雪结冰未清",
        2.0,
        _S,
        ("sanitation",),
        False,
        _O,
        [(_U, "摔倒|学校门口")],
    ),
    ("safety-hazard", _E, "突发事件", "Safety hazard", "安全隐患", 1.5, _S, ("emergency", "fire"), True, _U, []),
    (
        "stray-animals",
        _E,
        "社区事务",
        "Stray animals",
        "流浪动物",
        1.0,
        _S,
        ("agriculture",),
        False,
        _O,
        [(_U, "咬伤")],
    ),
    (
        "wage-arrears",
        _H,
        "劳动保障",
        "Unpaid wages",
        "拖欠工资",
        3.0,
        _D,
        ("hr-social",),
        False,
        _O,
        [(_U, "春节|农民工")],
    ),
    (
        "social-insurance",
        _H,
        "劳动保障",
        "Social insurance",
        "社保医保",
        3.0,
        _D,
        ("medical-insurance",),
        False,
        _O,
        [],
    ),
    ("school-enrolment", _H, "教育", "School enrolment", "入学入托", 2.0, _D, ("education",), False, _O, []),
    ("medical-service", _H, "卫生健康", "Medical service", "医疗服务", 2.0, _D, ("health",), False, _O, []),
    (
        "public-transport",
        _H,
        "交通出行",
        "Public transport service",
        "公交出租服务",
        2.0,
        _D,
        ("transport",),
        False,
        _O,
        [],
    ),
    ("consumer-complaint", _H, "市场监管", "Consumer complaint", "消费维权", 4.0, _D, ("market",), False, _O, []),
    ("housing-subsidy", _H, "住房保障", "Housing subsidy", "住房保障", 1.0, _D, ("housing-security",), False, _O, []),
    (
        "household-registration",
        _H,
        "公共安全",
        "Household registration",
        "户籍办理",
        1.0,
        _D,
        ("public-security",),
        False,
        _O,
        [],
    ),
    ("elderly-care", _H, "民政", "Elderly care", "养老服务", 1.5, _D, ("civil-affairs",), False, _O, []),
    (
        "pollution-report",
        _H,
        "环境保护",
        "Pollution report",
        "环境污染举报",
        1.5,
        _D,
        ("environment",),
        False,
        _O,
        [(_U, "排放|异味严重|死鱼")],
    ),
    ("unlicensed-business", _H, "市场监管", "Unlicensed business", "无证经营", 1.0, _D, ("market",), False, _O, []),
    ("rental-dispute", _H, "住房保障", "Rental dispute", "房屋租赁纠纷", 1.5, _D, ("real-estate",), False, _O, []),
    (
        "property-certificate",
        _H,
        "住房保障",
        "Property certificate",
        "不动产登记办证",
        2.0,
        _D,
        ("natural-resources",),
        False,
        _O,
        [],
    ),
    (
        "government-service",
        _H,
        "政务服务",
        "Government service desk",
        "政务服务办事",
        1.5,
        _D,
        ("administrative-approval",),
        False,
        _O,
        [],
    ),
]


def _spread(total: int, n: int, rng: random.Random, low: float = 0.6, high: float = 1.4, minimum: int = 1) -> list[int]:
    """``total`` split into ``n`` positive parts of random relative size (largest remainders)."""
    weights = [rng.uniform(low, high) for _ in range(n)]
    scale = (total - minimum * n) / sum(weights)
    ideal = [w * scale for w in weights]
    parts = [minimum + int(x) for x in ideal]
    order = sorted(range(n), key=lambda i: (-(ideal[i] - int(ideal[i])), i))
    for i in order[: total - sum(parts)]:
        parts[i] += 1
    return parts


def _names(rng: random.Random, count: int, suffixes: list[str], taken: set[str]) -> list[str]:
    """``count`` distinct two-character names with a suffix, none already in ``taken``."""
    out: list[str] = []
    while len(out) < count:
        name = rng.choice(_FIRST) + rng.choice(_SECOND) + rng.choice(suffixes)
        if name not in taken and name[0] != name[1]:
            taken.add(name)
            out.append(name)
    return out


def _person(rng: random.Random) -> str:
    given = rng.choice(_GIVEN) + (rng.choice(_GIVEN) if rng.random() < 0.7 else "")
    return rng.choice(_SURNAMES) + given


@dataclass
class _Block:
    i0: int
    j0: int
    i1: int
    j1: int

    @property
    def area(self) -> int:
        return (self.i1 - self.i0) * (self.j1 - self.j0)


def _cut(block: _Block, sizes: list[int]) -> list[_Block]:
    """Cut ``block`` into rectangles, one per entry, of area roughly proportional to ``sizes``."""
    if len(sizes) == 1:
        return [block]
    total = sum(sizes)
    k, acc = 0, 0
    while k < len(sizes) - 1 and acc + sizes[k] <= total / 2:
        acc += sizes[k]
        k += 1
    k = max(k, 1)
    first = sum(sizes[:k])
    width, height = block.i1 - block.i0, block.j1 - block.j0
    along_i = width * DLON * 0.76 >= height * DLAT  # cut the longer side (lon degrees are shorter here)
    length = width if along_i else height
    other = height if along_i else width
    cut = round(length * first / total)
    # each side must keep at least one lattice cell per grid it will hold
    need_a, need_b = first, total - first
    cut = max(cut, -(-need_a // other), 1)
    cut = min(cut, length - (-(-need_b // other)), length - 1)
    if cut * other < need_a or (length - cut) * other < need_b or cut < 1:
        raise ValueError(f"lattice too small to cut {block} into {sizes}")
    i0, j0, i1, j1 = block.i0, block.j0, block.i1, block.j1
    if along_i:
        a, b = _Block(i0, j0, i0 + cut, j1), _Block(i0 + cut, j0, i1, j1)
    else:
        a, b = _Block(i0, j0, i1, j0 + cut), _Block(i0, j0 + cut, i1, j1)
    return _cut(a, sizes[:k]) + _cut(b, sizes[k:])


def generate_city(seed: int = DEFAULT_SEED) -> CityData:
    """The seed city for ``seed``: the same seed always gives the same city."""
    rng = random.Random(seed)
    n_streets = sum(STREETS_PER_DISTRICT)
    communities_per_street = _spread(COMMUNITIES, n_streets, rng, minimum=3)
    grids_per_community = _spread(GRIDS, COMMUNITIES, rng, 0.5, 1.5, minimum=4)

    taken: set[str] = set(DISTRICT_NAMES)
    street_names = _names(rng, n_streets, ["街道"], taken)
    community_names = _names(rng, COMMUNITIES, ["社区"], taken)
    grid_names = _names(rng, GRIDS, _GRID_SUFFIXES, taken)

    # lattice points, jittered once; shared by every polygon through them
    points = [
        [
            (
                round(LON0 + i * DLON + rng.uniform(-JITTER, JITTER) * DLON, 6),
                round(LAT0 + j * DLAT + rng.uniform(-JITTER, JITTER) * DLAT, 6),
            )
            for j in range(ROWS + 1)
        ]
        for i in range(COLS + 1)
    ]

    def ring(b: _Block) -> tuple[tuple[float, float], ...]:
        pts = [points[i][b.j0] for i in range(b.i0, b.i1)]
        pts += [points[b.i1][j] for j in range(b.j0, b.j1)]
        pts += [points[i][b.j1] for i in range(b.i1, b.i0, -1)]
        pts += [points[b.i0][j] for j in range(b.j1, b.j0, -1)]
        return (*pts, pts[0])

    districts: list[District] = []
    streets: list[Street] = []
    communities: list[Community] = []
    grids: list[GridCell] = []
    staff: list[StaffMember] = []

    # grids per street and per district, to size the cuts
    street_comms: list[list[int]] = []
    c = 0
    for n in communities_per_street:
        street_comms.append(list(range(c, c + n)))
        c += n
    district_streets: list[list[int]] = []
    s = 0
    for n in STREETS_PER_DISTRICT:
        district_streets.append(list(range(s, s + n)))
        s += n

    def grids_in_street(si: int) -> int:
        return sum(grids_per_community[ci] for ci in street_comms[si])

    city_block = _Block(0, 0, COLS, ROWS)
    district_blocks = _cut(city_block, [sum(grids_in_street(si) for si in ss) for ss in district_streets])
    grid_no = 0
    for di, (ss, dblock) in enumerate(zip(district_streets, district_blocks, strict=True)):
        did = f"D-{di + 1:02d}"
        districts.append(District(did, DISTRICT_NAMES[di]))
        street_blocks = _cut(dblock, [grids_in_street(si) for si in ss])
        for sn, (si, sblock) in enumerate(zip(ss, street_blocks, strict=True)):
            sid = f"S-{di + 1:02d}{sn + 1:02d}"
            streets.append(Street(sid, did, street_names[si]))
            comm_blocks = _cut(sblock, [grids_per_community[ci] for ci in street_comms[si]])
            for cn, (ci, cblock) in enumerate(zip(street_comms[si], comm_blocks, strict=True)):
                cid = f"C-{di + 1:02d}{sn + 1:02d}{cn + 1:02d}"
                communities.append(Community(cid, sid, community_names[ci]))
                for gn, gblock in enumerate(_cut(cblock, [1] * grids_per_community[ci])):
                    gid = f"G-{di + 1:02d}{sn + 1:02d}{cn + 1:02d}{gn + 1:02d}"
                    grids.append(GridCell(gid, cid, grid_names[grid_no], ring(gblock)))
                    grid_no += 1

    # staff: 1 leader + 1 manager + 1 or 2 full-time (6,168 in all) + 0..4 part-time per grid
    second_full_time = set(rng.sample(range(len(grids)), FULL_TIME_WORKERS - len(grids)))
    for n, g in enumerate(grids):
        roles = [StaffRole.LEADER, StaffRole.MANAGER, StaffRole.FULL_TIME]
        if n in second_full_time:
            roles.append(StaffRole.FULL_TIME)
        roles += [StaffRole.PART_TIME] * rng.choice([0, 1, 1, 2, 2, 3, 4])
        for k, role in enumerate(roles, start=1):
            staff.append(StaffMember(f"W-{g.id[2:]}-{k}", g.id, role, _person(rng)))

    departments = [Department(d, name, _person(rng), title) for d, name, title in DEPARTMENTS]
    categories = [CategoryEntry(code, kind, group, name, zh, w) for code, kind, group, name, zh, w, *_ in CATALOGUE]
    urgency_rules: list[UrgencyRule] = []
    routing_rules: list[RoutingRule] = []
    for code, *_, route, depts, whistle, default, extra in CATALOGUE:
        urgency_rules.append(UrgencyRule(code, default))
        urgency_rules += [UrgencyRule(code, u, tuple(words.split("|"))) for u, words in extra]
        routing_rules.append(RoutingRule(code, route, depts, whistle))

    companies, teams, unit_staff = seed_community_units(seed, streets, communities)
    return CityData(
        name="青城市 (synthetic seed city)",
        districts=districts,
        streets=streets,
        communities=communities,
        grids=grids,
        staff=staff,
        departments=departments,
        categories=categories,
        urgency_rules=urgency_rules,
        routing_rules=routing_rules,
        meta={
            "seed": str(seed),
            "generator": "city.seed.generate_city",
            "note": "Synthetic city at the scale of a provincial capital; every name is made up.",
        },
        sections=seed_sections(streets),
        property_companies=companies,
        volunteer_teams=teams,
        unit_staff=unit_staff,
    )


def seed_community_units(
    seed: int, streets: list[Street], communities: list[Community]
) -> tuple[list[PropertyCompany], list[VolunteerTeam], list[UnitStaffMember]]:
    """The property companies, volunteer teams and their staff of the seed city.

    Drawn from a random stream of their own, so the rest of the city is the same as without them.
    Each street has one to three companies (no more than it has communities) serving consecutive runs of
    its communities, every community served; now and then a company also serves the first community of
    the next one's run (two companies in one community). Each community has one volunteer team.
    """
    rng = random.Random(f"community-units-{seed}")
    by_street: dict[str, list[Community]] = {}
    for c in communities:
        by_street.setdefault(c.street_id, []).append(c)
    taken: set[str] = set()
    companies: list[PropertyCompany] = []
    teams: list[VolunteerTeam] = []
    staff: list[UnitStaffMember] = []
    for st in streets:
        comms = [c.id for c in by_street.get(st.id, [])]
        if not comms:
            continue
        k = min(len(comms), rng.choice([1, 2, 2, 3]))
        sizes = _spread(len(comms), k, rng) if k > 1 else [len(comms)]
        names = _names(rng, k, _PROPERTY_SUFFIXES, taken)
        start = 0
        for n, (size, name) in enumerate(zip(sizes, names, strict=True), start=1):
            served = comms[start : start + size]
            start += size
            if start < len(comms) and rng.random() < 0.3:
                served.append(comms[start])
            company = PropertyCompany(f"P-{st.id[2:]}-{n}", name, tuple(served), _person(rng))
            companies.append(company)
            staff += _unit_staff(rng, UnitKind.PROPERTY.value, company.id, company.manager, "manager", "staff")
    for c in communities:
        team = VolunteerTeam(f"V-{c.id}", f"{c.name}志愿服务队", (c.id,), _person(rng))
        teams.append(team)
        staff += _unit_staff(rng, UnitKind.VOLUNTEER_TEAM.value, team.id, team.leader, "leader", "volunteer")
    return companies, teams, staff


def _unit_staff(
    rng: random.Random, kind: str, unit_id: str, head: str, head_duty: str, duty: str
) -> list[UnitStaffMember]:
    """The unit's head and one or two more members (ids ``<unit id>-<n>``)."""
    names = [head] + [_person(rng) for _ in range(rng.choice([1, 2]))]
    return [
        UnitStaffMember(f"{unit_id}-{n}", kind, unit_id, name, head_duty if n == 1 else duty)
        for n, name in enumerate(names, start=1)
    ]


def seed_sections(streets: list[Street]) -> list[Section]:
    """The sections of the seed city (no randomness): each department's (:data:`DEPARTMENT_SECTIONS`),
    then each street office's (:data:`STREET_SECTIONS`)."""
    out = [
        Section(UnitKind.DEPARTMENT.value, d, sid, name)
        for d, *_ in DEPARTMENTS
        for sid, name in DEPARTMENT_SECTIONS[d]
    ]
    out += [Section(UnitKind.STREET.value, s.id, sid, name) for s in streets for sid, name in STREET_SECTIONS]
    return out
